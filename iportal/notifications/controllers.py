"""The people's side of notifications, open pages included.

Forwarding a client number's documents to accounting software: the JSON API
(`/api/v1/client-numbers/{client_code}/forwarding-addresses`), the page of one number
(`/client-numbers/{client_code}/forwarding`, no JavaScript) and the page the
confirmation link opens, which needs no login (the inbox's owner has none): it shows
what is asked and confirms with a button, so that a mail scanner opening the link
confirms nothing.

The one-click unsubscribe address of notices (RFC 8058), open without a login:
`GET /unsubscribe/{token}` only shows what the link would switch off and a button (mail
scanners and link previews fetch links, and must change nothing); `POST` (the button,
or the mail provider's one-click request with `List-Unsubscribe=One-Click`) switches
off the named person's notices for the named numbers. The signed token is the only
authority: no session, no cookie, so no CSRF token either (see `web.context`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from iportal.errors import DomainError, Gone
from iportal.notifications import forwarding, services
from iportal.notifications.schemas import (
    ForwardingAddressItem,
    ForwardingAddressList,
    ForwardingAddressRequest,
)
from iportal.web.auth import LOGIN_GATE, PERSON, USER, SessionUser
from iportal.web.context import client_ip, settings_of
from iportal.web.inputs import SerialId
from iportal.web.pages import page, refused_page

NO_STORE = {"Cache-Control": "no-store"}
ADDRESSES = "/api/v1/client-numbers/{client_code:str}/forwarding-addresses"


def _item(address: forwarding.ForwardingAddress) -> ForwardingAddressItem:
    return ForwardingAddressItem(
        id=address.id,
        email=address.email,
        state=address.state,  # type: ignore[arg-type]  # one of forwarding.STATES
        added_by=address.added_by,
        created_at=address.created_at,
        confirmed_at=address.confirmed_at,
        last_error=address.last_error,
    )


# JSON API ------------------------------------------------------------------------------


@get(
    ADDRESSES, name="notifications.forwarding_addresses", tags=["client numbers"], dependencies=USER
)
async def api_list(
    user: NamedDependency[SessionUser], client_code: FromPath[str]
) -> Response[ForwardingAddressList]:
    """The accounting inboxes this number's documents are forwarded to, with their
    state: all of them for the main contact, a shared user's own for them. 404 for a
    number the caller does not see."""
    found = await forwarding.forwarding_addresses(user.user_id, client_code)
    return Response(ForwardingAddressList([_item(a) for a in found]), headers=NO_STORE)


@post(
    ADDRESSES,
    name="notifications.forwarding_address_add",
    tags=["client numbers"],
    dependencies=USER,
    status_code=HTTP_201_CREATED,
)
async def api_add(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    client_code: FromPath[str],
    data: JSONBody[ForwardingAddressRequest],
) -> Response[ForwardingAddressItem]:
    """Adds an inbox (the main contact, or a shared user for themselves): a confirmation
    link goes to it first, and every new document of the number follows, one e-mail
    each with its PDF and XML, once the link is used. 409 when the number already
    forwards there or has ten addresses; 422 for an address that is not one."""
    added = await forwarding.add_forwarding_address(
        settings_of(request), user.user_id, client_code, data.email, ip=client_ip(request)
    )
    return Response(_item(added), status_code=HTTP_201_CREATED, headers=NO_STORE)


@delete(
    ADDRESSES + "/{address_id:int}",
    name="notifications.forwarding_address_remove",
    tags=["client numbers"],
    dependencies=USER,
    status_code=HTTP_204_NO_CONTENT,
)
async def api_remove(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    client_code: FromPath[str],
    address_id: FromPath[SerialId],
) -> None:
    """Stops forwarding there at once, what is still queued for it included."""
    await forwarding.remove_forwarding_address(
        user.user_id, client_code, address_id, ip=client_ip(request)
    )


# The number's page ---------------------------------------------------------------------


async def _number_page(
    request: Request[Any, Any, Any],
    user: SessionUser,
    client_code: str,
    *,
    email: str = "",
    error: DomainError | None = None,
    done: dict[str, str] | None = None,
) -> Template:
    number = await forwarding.forwarding_number(user.user_id, client_code)
    addresses = await forwarding.forwarding_addresses(user.user_id, number.client_code)
    context: dict[str, Any] = {
        "number": number,
        "addresses": addresses,
        "email": email,
        "done": done or {},
    }
    template = "notifications/forwarding.html"
    if error is not None:
        return refused_page(request, template, error, **context)
    return page(request, template, error=None, **context)


@get(
    "/client-numbers/{client_code:str}/forwarding",
    name="notifications.forwarding_page",
    include_in_schema=False,
)
async def forwarding_page(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    client_code: FromPath[str],
    added: Annotated[str, QueryParameter()] = "",
    removed: Annotated[str, QueryParameter()] = "",
) -> Response[Any]:
    done = {"added": added[:254], "removed": removed[:254]}
    return await _number_page(request, user, client_code, done=done)


@post(
    "/client-numbers/{client_code:str}/forwarding",
    name="notifications.forwarding_page_add",
    include_in_schema=False,
)
async def forwarding_page_add(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    client_code: FromPath[str],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    email = data.get("email", "")
    number = await forwarding.forwarding_number(user.user_id, client_code)
    try:
        added = await forwarding.add_forwarding_address(
            settings_of(request), user.user_id, number.client_code, email, ip=client_ip(request)
        )
    except DomainError as error:
        return await _number_page(request, user, number.client_code, email=email[:254], error=error)
    path = f"/client-numbers/{number.client_code}/forwarding"
    return Redirect(path=f"{path}?{urlencode({'added': added.email})}", status_code=303)


@post(
    "/client-numbers/{client_code:str}/forwarding/{address_id:int}/remove",
    name="notifications.forwarding_page_remove",
    include_in_schema=False,
)
async def forwarding_page_remove(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    client_code: FromPath[str],
    address_id: FromPath[SerialId],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    number = await forwarding.forwarding_number(user.user_id, client_code)
    await forwarding.remove_forwarding_address(
        user.user_id, number.client_code, address_id, ip=client_ip(request)
    )
    query = urlencode({"removed": data.get("email", "")[:254]})
    return Redirect(
        path=f"/client-numbers/{number.client_code}/forwarding?{query}", status_code=303
    )


@get("/me/forwarding", name="notifications.forwarding_overview", include_in_schema=False)
async def forwarding_overview_page(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Template:
    """The settings page: every number the person sees and where its documents go."""
    numbers = await forwarding.forwarding_overview(user.user_id)
    return page(request, "notifications/forwarding_overview.html", numbers=numbers)


# The confirmation link (no login) ------------------------------------------------------


def _confirm_page(
    request: Request[Any, Any, Any], status_code: int = 200, **context: Any
) -> Template:
    response = page(
        request, "notifications/forwarding_confirm.html", status_code=status_code, **context
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the page's URL
    return response


@get("/forwarding/confirm", name="notifications.forwarding_confirm_page", include_in_schema=False)
async def confirm_page(
    request: Request[Any, Any, Any], token: Annotated[str, QueryParameter()] = ""
) -> Template:
    try:
        asked = await forwarding.confirmation(settings_of(request), token)
    except Gone as error:
        return _confirm_page(request, 410, asked=None, token="", done="", error=error.translated())
    return _confirm_page(request, asked=asked, token=token, done="", error=None)


@post("/forwarding/confirm", name="notifications.forwarding_confirm", include_in_schema=False)
async def confirm(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    try:
        email = await forwarding.confirm_forwarding_address(
            settings_of(request), data.get("token", ""), ip=client_ip(request)
        )
    except Gone as error:
        return _confirm_page(request, 410, asked=None, token="", done="", error=error.translated())
    return _confirm_page(request, asked=None, token="", done=email, error=None)


# One-click unsubscribe (no login) ------------------------------------------------------


@get("/unsubscribe/{token:str}", name="notifications.unsubscribe_page", include_in_schema=False)
async def unsubscribe_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    codes = await services.unsubscribe_codes(settings_of(request), token)
    return page(request, "notifications/unsubscribe.html", token=token, codes=codes, done=False)


@post(
    "/unsubscribe/{token:str}",
    name="notifications.unsubscribe",
    include_in_schema=False,
    status_code=200,
)
async def unsubscribe(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    codes = await services.unsubscribe(settings_of(request), token)
    return page(request, "notifications/unsubscribe.html", token=token, codes=codes, done=True)


# The number's page sits behind the login gate; the API answers 401 by itself (`USER`);
# the confirmation and unsubscribe links are for whoever reads the e-mail.
pages = Router(
    path="/",
    guards=LOGIN_GATE,
    dependencies=PERSON,
    route_handlers=[
        forwarding_overview_page,
        forwarding_page,
        forwarding_page_add,
        forwarding_page_remove,
    ],
)

router = Router(
    path="/",
    route_handlers=[
        api_list,
        api_add,
        api_remove,
        confirm_page,
        confirm,
        unsubscribe_page,
        unsubscribe,
        pages,
    ],
)
