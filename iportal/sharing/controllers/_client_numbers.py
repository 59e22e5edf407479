"""The "Client numbers" pages: the list (for the main contact of a business account,
with who sees each number), adding one with a further code and then ticking right away
who of the account's shared users sees it, the notification switch, the opt-out with a
confirmation page of its own, and each number's sharing page. No JavaScript needed.

The routes keep the names they had when they lived in `accounts` (`accounts.…`)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from iportal.accounts.services import SessionUser
from iportal.errors import DomainError
from iportal.sharing import number_sharing, services
from iportal.web.context import client_ip, settings_of
from iportal.web.pages import page, refused_page

PAGE_SIZE = 200


async def _sharing_of(user: SessionUser, number: services.MyClientNumber | None) -> Any:
    """The tick boxes of a number just added: the account's shared users, if it has any
    and the user shares this number."""
    if number is None or not number.can_share:
        return None
    try:
        sharing = await number_sharing.number_sharing(user.user_id, number.client_code)
    except DomainError:  # a number of a second account the user is main contact of
        return None
    return sharing if sharing.shared_users else None


async def _list_page(
    request: Request[Any, Any, Any],
    user: SessionUser,
    *,
    code: str = "",
    error: DomainError | None = None,
    done: dict[str, str] | None = None,
) -> Template:
    found = await services.my_client_numbers(user.user_id, limit=PAGE_SIZE)
    template, done = "sharing/client_numbers.html", done or {}
    added = next((n for n in found.items if n.client_code == done.get("added")), None)
    context = {
        "numbers": found.items,
        "code": code,
        "done": done,
        # The "Shared with" column: only for numbers the user shares (B2C cannot).
        "shows_sharing": any(number.can_share for number in found.items),
        "sharing": await _sharing_of(user, added),
    }
    if error is not None:
        return refused_page(request, template, error, **context)
    return page(request, template, error=None, **context)


@get("/client-numbers", name="accounts.client_numbers_page", include_in_schema=False)
async def client_numbers_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    code: Annotated[str, QueryParameter()] = "",
    added: Annotated[str, QueryParameter()] = "",
    opted_out: Annotated[str, QueryParameter()] = "",
    saved: Annotated[str, QueryParameter()] = "",
    shared: Annotated[str, QueryParameter()] = "",
) -> Response[Any]:
    done = {
        "added": added[:40],
        "opted_out": opted_out[:40],
        "saved": saved[:40],
        "shared": shared[:40],
    }
    return await _list_page(request, user, code=code.strip()[:64], done=done)


@post("/client-numbers/activate", name="accounts.client_numbers_add", include_in_schema=False)
async def client_numbers_add(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    code = data.get("code", "")
    try:
        added = await services.add_client_number(
            settings_of(request), user.user_id, code, ip=client_ip(request)
        )
    except DomainError as error:
        return await _list_page(request, user, code=code.strip()[:64], error=error)
    query = urlencode({"added": added.client_code})
    return Redirect(path=f"/client-numbers?{query}", status_code=303)


@post(
    "/client-numbers/{client_code:str}/notifications",
    name="accounts.client_numbers_notifications",
    include_in_schema=False,
)
async def client_numbers_notifications(
    user: NamedDependency[SessionUser],
    client_code: FromPath[str],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    enabled = data.get("enabled") == "on"
    number = await services.set_notifications(user.user_id, client_code, enabled)
    query = urlencode({"saved": number.client_code})
    return Redirect(path=f"/client-numbers?{query}", status_code=303)


@get(
    "/client-numbers/{client_code:str}/opt-out",
    name="accounts.client_numbers_opt_out_page",
    include_in_schema=False,
)
async def client_numbers_opt_out_page(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser], client_code: FromPath[str]
) -> Response[Any]:
    """The confirmation step before going back to paper (the main contact's alone)."""
    number = await services.managed_client_number(user.user_id, client_code)
    return page(request, "sharing/opt_out_confirm.html", number=number)


@post(
    "/client-numbers/{client_code:str}/opt-out",
    name="accounts.client_numbers_opt_out",
    include_in_schema=False,
)
async def client_numbers_opt_out(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser], client_code: FromPath[str]
) -> Response[Any]:
    code = await services.opt_out(user.user_id, client_code, ip=client_ip(request))
    return Redirect(path=f"/client-numbers?{urlencode({'opted_out': code})}", status_code=303)


@get(
    "/client-numbers/{client_code:str}/shared-users",
    name="sharing.number_sharing_page",
    include_in_schema=False,
)
async def number_sharing_page(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser], client_code: FromPath[str]
) -> Response[Any]:
    """Who of the account's shared users sees this number, as tick boxes (main contact
    of a business account: 403 for a shared user, 404 for a number not theirs)."""
    sharing = await number_sharing.number_sharing(user.user_id, client_code)
    return page(request, "sharing/number_sharing.html", sharing=sharing)


@post(
    "/client-numbers/{client_code:str}/shared-users",
    name="sharing.number_sharing_save",
    include_in_schema=False,
)
async def number_sharing_save(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser], client_code: FromPath[str]
) -> Response[Any]:
    form = await request.form()
    ticked = [
        int(value)
        for value in form.getall("shared_user", [])
        if str(value).isascii() and str(value).isdigit()
    ]
    sharing = await number_sharing.share_number(
        settings_of(request), user.user_id, client_code, ticked, ip=client_ip(request)
    )
    query = urlencode({"shared": sharing.client_code})
    return Redirect(path=f"/client-numbers?{query}", status_code=303)


HANDLERS = [
    client_numbers_page,
    client_numbers_add,
    client_numbers_notifications,
    client_numbers_opt_out_page,
    client_numbers_opt_out,
    number_sharing_page,
    number_sharing_save,
]
