"""A logged-in user's client numbers: the JSON API (`/api/v1/client-numbers`) and the
page that lists them, adds one with a further code and opts one out (no JavaScript:
the opt-out asks for confirmation on a page of its own); and the shared users a main
contact lets into the account (`/api/v1/shared-users`, routes `sharing.…`).

The routes keep the names they had when they lived in `accounts` (`accounts.…`):
links and clients know them by those."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import UNSET

from iportal.accounts.schemas import (
    ClientNumberActivateRequest,
    ClientNumberPatch,
    MyClientNumberItem,
    MyClientNumberPage,
    OptedOut,
    SharedUserSummary,
)
from iportal.accounts.services import SessionUser
from iportal.errors import DomainError
from iportal.sharing import services, shared_users
from iportal.sharing.schemas import (
    SharedUserItem,
    SharedUserList,
    SharedUserPatch,
    SharedUserRequest,
)
from iportal.web.auth import LOGIN_GATE, PERSON, USER
from iportal.web.context import client_ip, settings_of
from iportal.web.inputs import SerialId
from iportal.web.pages import page, refused_page
from iportal.web.params import Cursor, Limit

NO_STORE = {"Cache-Control": "no-store"}
PAGE_SIZE = 200


def _item(number: services.MyClientNumber) -> MyClientNumberItem:
    return MyClientNumberItem(
        client_code=number.client_code,
        company_name=number.company_name,
        issuer_name=number.issuer_name,
        role=number.role,
        notifications_enabled=number.notifications_enabled,
        delivery_channel=number.delivery_channel,
        activated_at=number.activated_at,
        account_login=number.account_login,
        access_until=number.access_until,
        shared_users=[
            SharedUserSummary(s.id, s.email, s.first_name, s.last_name, s.until)
            for s in number.shared_users
        ],
    )


# JSON API ------------------------------------------------------------------------------


@get(
    "/api/v1/client-numbers",
    name="accounts.my_client_numbers",
    tags=["client numbers"],
    dependencies=USER,
)
async def api_list(
    user: NamedDependency[SessionUser],
    limit: Limit = None,
    cursor: Cursor = None,
) -> Response[MyClientNumberPage]:
    """The user's client numbers by client code, with their role, the notification switch
    and (for the main contact) the shared users who see each; keyset-paginated."""
    found = await services.my_client_numbers(user.user_id, limit=limit, cursor=cursor)
    return Response(
        MyClientNumberPage([_item(n) for n in found.items], found.next_cursor), headers=NO_STORE
    )


@post(
    "/api/v1/client-numbers/activate",
    name="accounts.my_client_number_activate",
    tags=["client numbers"],
    dependencies=USER,
    status_code=HTTP_201_CREATED,
)
async def api_activate(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: JSONBody[ClientNumberActivateRequest],
) -> Response[MyClientNumberItem]:
    """Adds the number of a further activation code to the user's account (the same
    password). 404 unknown code; 410 used, replaced or expired; 409 already active in an
    account (this one or another)."""
    added = await services.add_client_number(
        settings_of(request), user.user_id, data.code, ip=client_ip(request)
    )
    return Response(_item(added), status_code=HTTP_201_CREATED, headers=NO_STORE)


@patch(
    "/api/v1/client-numbers/{client_code:str}",
    name="accounts.my_client_number_patch",
    tags=["client numbers"],
    dependencies=USER,
)
async def api_patch(
    user: NamedDependency[SessionUser],
    client_code: FromPath[str],
    data: JSONBody[ClientNumberPatch],
) -> Response[MyClientNumberItem]:
    """Switches the new-document e-mails of one number on or off (main contact: 403 for
    a shared user; 404 for a number that is not the user's)."""
    number = await services.set_notifications(user.user_id, client_code, data.notifications_enabled)
    return Response(_item(number), headers=NO_STORE)


@post(
    "/api/v1/client-numbers/{client_code:str}/opt-out",
    name="accounts.my_client_number_opt_out",
    tags=["client numbers"],
    dependencies=USER,
    status_code=200,
)
async def api_opt_out(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    client_code: FromPath[str],
) -> Response[OptedOut]:
    """Back to paper: the number leaves the account (main contact only). To come back,
    the latest activation code issued for it, while valid."""
    code = await services.opt_out(user.user_id, client_code, ip=client_ip(request))
    return Response(OptedOut(code, "paper"), headers=NO_STORE)


# Shared users (JSON API) ---------------------------------------------------------------


def _shared(found: shared_users.SharedUser) -> SharedUserItem:
    return SharedUserItem(
        id=found.id,
        email=found.email,
        first_name=found.first_name,
        last_name=found.last_name,
        language=found.language,
        has_login=found.has_login,
        client_codes=list(found.client_codes),
        until=found.until,
    )


@get("/api/v1/shared-users", name="sharing.shared_users", tags=["sharing"], dependencies=USER)
async def api_shared_users(user: NamedDependency[SessionUser]) -> Response[SharedUserList]:
    """The shared users of the account, with the client codes each sees (main contact of
    a B2B account only: 403 for anyone else)."""
    found = await shared_users.list_shared_users(user.user_id)
    return Response(SharedUserList([_shared(s) for s in found]), headers=NO_STORE)


@post(
    "/api/v1/shared-users",
    name="sharing.shared_user_create",
    tags=["sharing"],
    dependencies=USER,
    status_code=HTTP_201_CREATED,
)
async def api_shared_user_create(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: JSONBody[SharedUserRequest],
) -> Response[SharedUserItem]:
    """Lets a person see these client numbers of the account. A new person is invited by
    e-mail to choose a password (the link works once, five days); someone who already
    logs in is told; `until` ends their access at that day's end. 422 for a code not of
    this account or an end date in the past; 409 if already a shared user."""
    created = await shared_users.create_shared_user(
        settings_of(request),
        user.user_id,
        email=data.email,
        first_name=data.first_name,
        last_name=data.last_name,
        language=data.language,
        client_codes=data.client_codes,
        until=data.until,
        ip=client_ip(request),
    )
    return Response(_shared(created), status_code=HTTP_201_CREATED, headers=NO_STORE)


@patch(
    "/api/v1/shared-users/{shared_user_id:int}",
    name="sharing.shared_user_update",
    tags=["sharing"],
    dependencies=USER,
)
async def api_shared_user_update(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    shared_user_id: FromPath[SerialId],
    data: JSONBody[SharedUserPatch],
) -> Response[SharedUserItem]:
    """Changes what is given; `client_codes` replaces the ticked set (a number unticked is
    hidden at once). 409 to rename someone who already has a login."""
    updated = await shared_users.update_shared_user(
        settings_of(request),
        user.user_id,
        shared_user_id,
        first_name=data.first_name,
        last_name=data.last_name,
        language=data.language,
        client_codes=data.client_codes,
        until=shared_users.KEEP if data.until is UNSET else data.until,
        ip=client_ip(request),
    )
    return Response(_shared(updated), headers=NO_STORE)


@delete(
    "/api/v1/shared-users/{shared_user_id:int}",
    name="sharing.shared_user_delete",
    tags=["sharing"],
    dependencies=USER,
    status_code=HTTP_204_NO_CONTENT,
)
async def api_shared_user_delete(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    shared_user_id: FromPath[SerialId],
) -> None:
    """The person no longer sees anything of the account, from the next request on."""
    await shared_users.delete_shared_user(user.user_id, shared_user_id, ip=client_ip(request))


# Pages ---------------------------------------------------------------------------------


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
    if error is not None:
        return refused_page(request, template, error, numbers=found.items, code=code, done=done)
    return page(request, template, error=None, numbers=found.items, code=code, done=done)


@get("/client-numbers", name="accounts.client_numbers_page", include_in_schema=False)
async def client_numbers_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    code: Annotated[str, QueryParameter()] = "",
    added: Annotated[str, QueryParameter()] = "",
    opted_out: Annotated[str, QueryParameter()] = "",
    saved: Annotated[str, QueryParameter()] = "",
) -> Response[Any]:
    done = {"added": added[:40], "opted_out": opted_out[:40], "saved": saved[:40]}
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
    """The confirmation step before going back to paper."""
    number = await services.my_client_number(user.user_id, client_code)
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


# The pages sit behind the login gate; the API answers 401 by itself (`USER`).
pages = Router(
    path="/",
    guards=LOGIN_GATE,
    dependencies=PERSON,
    route_handlers=[
        client_numbers_page,
        client_numbers_add,
        client_numbers_notifications,
        client_numbers_opt_out_page,
        client_numbers_opt_out,
    ],
)

router = Router(
    path="/",
    route_handlers=[
        api_list,
        api_activate,
        api_patch,
        api_opt_out,
        api_shared_users,
        api_shared_user_create,
        api_shared_user_update,
        api_shared_user_delete,
        pages,
    ],
)
