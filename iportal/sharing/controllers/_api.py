"""The JSON API of a logged-in user's client numbers (`/api/v1/client-numbers`) and of
the shared users a main contact lets into the account (`/api/v1/shared-users`, routes
`sharing.…`).

The client-number routes keep the names they had when they lived in `accounts`
(`accounts.…`): links and clients know them by those."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
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
from iportal.sharing import services, shared_users
from iportal.sharing.schemas import (
    DeliveryProblemItem,
    SharedUserItem,
    SharedUserList,
    SharedUserPatch,
    SharedUserRequest,
)
from iportal.web.auth import USER
from iportal.web.context import client_ip, settings_of
from iportal.web.inputs import SerialId
from iportal.web.params import Cursor, Limit

NO_STORE = {"Cache-Control": "no-store"}


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
    """The user's client numbers by client code, with their role, the caller's own
    switch of e-mails about new documents and (for the main contact) the shared users
    who see each; keyset-paginated."""
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
    """Switches the caller's own e-mails about new documents of one number on or off:
    the main contact's and each shared user's are their own (404 for a number that is
    not the user's)."""
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
        delivery_problem=(
            DeliveryProblemItem(found.delivery_problem.kind, found.delivery_problem.since)
            if found.delivery_problem
            else None
        ),
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


HANDLERS = [
    api_list,
    api_activate,
    api_patch,
    api_opt_out,
    api_shared_users,
    api_shared_user_create,
    api_shared_user_update,
    api_shared_user_delete,
]
