"""The "Shared users" pages of a business account's main contact: the list, a form to
let a person in with tick boxes of the account's client numbers, a page per shared user
to change them, and removal after a confirmation page. Forms post and redirect; a
refusal shows the form again with what was typed and the reason beside its field.

Anyone else (a shared user, the main contact of a B2C account) gets the service's 403
page; another account's shared user is a 404, like one that does not exist."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from iportal.accounts.services import SessionUser
from iportal.errors import DomainError, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.sharing import number_sharing, shared_users
from iportal.sharing.shared_users import SharedUser
from iportal.web.context import client_ip, settings_of
from iportal.web.inputs import SerialId
from iportal.web.pages import page

NOT_A_DAY = N_("until: “%(until)s” is not a day; write it as 2027-06-30.")

# Which field a refusal is about, by its message; others are shown above the form.
FIELD_OF_MESSAGE = {
    shared_users.ALREADY_SHARED: "email",
    shared_users.NOT_YOURSELF: "email",
    shared_users.NOT_IN_ACCOUNT: "client_codes",
    shared_users.OWN_PROFILE: "first_name",
    shared_users.UNTIL_PAST: "until",
    NOT_A_DAY: "until",
    "language: one of nl, fr, en, de.": "language",
}
NAME_FIELDS = ("first_name", "last_name")


@dataclass
class Typed:
    """What the form holds: empty, a shared user's, or what was typed."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    language: str = ""
    client_codes: set[str] = field(default_factory=set)
    until: str = ""  # as typed: a day (ISO 8601, what a date field sends) or empty

    @classmethod
    def of(cls, shared: SharedUser) -> Typed:
        return cls(
            shared.email,
            shared.first_name,
            shared.last_name,
            shared.language,
            set(shared.client_codes),
            shared.until.isoformat() if shared.until else "",
        )

    @classmethod
    def read(cls, form: FormMultiDict) -> Typed:
        # Kept whole: the service refuses what is too long rather than shortening an
        # address into someone else's.
        def text(name: str) -> str:
            return str(form.get(name) or "")

        codes = {str(code) for code in form.getall("client_code", [])}
        names = (text("email"), text("first_name"), text("last_name"), text("language"))
        return cls(*names, codes, text("until").strip())

    def end(self) -> date | None:
        """The last day of access; None when left empty (no end)."""
        if not self.until:
            return None
        try:
            return date.fromisoformat(self.until)
        except ValueError:
            raise InvalidInput(NOT_A_DAY, until=self.until[:40]) from None


def _errors(error: DomainError, *, default: str) -> dict[str, str]:
    """The refusal's message under the field it is about (`general`: above the form)."""
    where = FIELD_OF_MESSAGE.get(error.message)
    if where is None and error.params.get("field") in NAME_FIELDS:
        where = str(error.params["field"])
    return {where or default: error.translated()}


async def _list(
    request: Request[Any, Any, Any],
    user: SessionUser,
    *,
    typed: Typed | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    done: dict[str, str] | None = None,
) -> Template:
    people = await shared_users.list_shared_users(user.user_id)
    numbers = await number_sharing.shareable_numbers(user.user_id)
    done = done or {}
    return page(
        request,
        "sharing/shared_users.html",
        status_code=status_code,
        people=people,
        numbers=numbers,
        typed=typed or Typed(language=user.language),
        errors=errors or {},
        done=done,
        # The person a message after a change is about.
        named=next((p for p in people if str(p.id) == done.get("id")), None),
    )


@get("/shared-users", name="sharing.shared_users_page", include_in_schema=False)
async def shared_users_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    created: Annotated[str, QueryParameter()] = "",
    saved: Annotated[str, QueryParameter()] = "",
    removed: Annotated[str, QueryParameter()] = "",
) -> Response[Any]:
    if created or saved:
        done = {"what": "created" if created else "saved", "id": (created or saved)[:12]}
    else:
        done = {"what": "removed"} if removed else {}
    return await _list(request, user, done=done)


@post("/shared-users", name="sharing.shared_user_add", include_in_schema=False)
async def shared_user_add(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Response[Any]:
    typed = Typed.read(await request.form())
    try:
        until = typed.end()
        created = await shared_users.create_shared_user(
            settings_of(request),
            user.user_id,
            email=typed.email,
            first_name=typed.first_name,
            last_name=typed.last_name,
            language=typed.language,
            client_codes=sorted(typed.client_codes),
            until=until,
            ip=client_ip(request),
        )
    except DomainError as error:
        errors = _errors(error, default="email")
        return await _list(request, user, typed=typed, errors=errors, status_code=error.status_code)
    return Redirect(path=f"/shared-users?created={created.id}", status_code=303)


async def _one(user: SessionUser, shared_user_id: int) -> SharedUser:
    """One of the account's shared users; `NotFound` for any other id."""
    for shared in await shared_users.list_shared_users(user.user_id):
        if shared.id == shared_user_id:
            return shared
    raise NotFound(shared_users.NO_SUCH_SHARED_USER)


async def _edit(
    request: Request[Any, Any, Any],
    user: SessionUser,
    shared: SharedUser,
    *,
    typed: Typed | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "sharing/shared_user.html",
        status_code=status_code,
        shared=shared,
        numbers=await number_sharing.shareable_numbers(user.user_id),
        typed=typed or Typed.of(shared),
        errors=errors or {},
    )


@get("/shared-users/{shared_user_id:int}", name="sharing.shared_user_page", include_in_schema=False)
async def shared_user_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    shared_user_id: FromPath[SerialId],
) -> Response[Any]:
    return await _edit(request, user, await _one(user, shared_user_id))


@post(
    "/shared-users/{shared_user_id:int}", name="sharing.shared_user_save", include_in_schema=False
)
async def shared_user_save(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    shared_user_id: FromPath[SerialId],
) -> Response[Any]:
    form = await request.form()
    typed = Typed.read(form)
    shared = await _one(user, shared_user_id)
    # The name and language are in the form only while the person has no login.
    names = {
        name: getattr(typed, name) if name in form else None
        for name in ("first_name", "last_name", "language")
    }
    try:
        until = typed.end()
        await shared_users.update_shared_user(
            settings_of(request),
            user.user_id,
            shared.id,
            **names,
            client_codes=sorted(typed.client_codes),
            until=until,
            ip=client_ip(request),
        )
    except DomainError as error:
        typed.email = shared.email
        errors = _errors(error, default="general")
        return await _edit(
            request, user, shared, typed=typed, errors=errors, status_code=error.status_code
        )
    return Redirect(path=f"/shared-users?saved={shared.id}", status_code=303)


@get(
    "/shared-users/{shared_user_id:int}/remove",
    name="sharing.shared_user_remove_page",
    include_in_schema=False,
)
async def shared_user_remove_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    shared_user_id: FromPath[SerialId],
) -> Response[Any]:
    """The confirmation step before a shared user loses access to the account."""
    shared = await _one(user, shared_user_id)
    return page(request, "sharing/shared_user_remove.html", shared=shared)


@post(
    "/shared-users/{shared_user_id:int}/remove",
    name="sharing.shared_user_remove",
    include_in_schema=False,
)
async def shared_user_remove(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    shared_user_id: FromPath[SerialId],
) -> Response[Any]:
    await shared_users.delete_shared_user(user.user_id, shared_user_id, ip=client_ip(request))
    return Redirect(path="/shared-users?removed=1", status_code=303)


HANDLERS = [
    shared_users_page,
    shared_user_add,
    shared_user_page,
    shared_user_save,
    shared_user_remove_page,
    shared_user_remove,
]
