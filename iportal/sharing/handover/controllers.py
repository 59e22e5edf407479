"""Handing over the main contact role: `POST /api/v1/account/main-contact` and the
page `/account/main-contact` (main contact of a B2B account only), and the page the
e-mailed links open, `/account/main-contact/confirm` (no login needed: the link is the
proof; a GET shows a button, so that a mail scanner that follows links confirms nothing)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter, URLEncodedBody
from litestar.response import Template
from litestar.status_codes import HTTP_202_ACCEPTED

from iportal.accounts.services import SessionUser
from iportal.errors import DomainError, Gone
from iportal.i18n import N_, gettext
from iportal.sharing import main_contact, shared_users
from iportal.sharing.handover.schemas import MainContactAsked, MainContactRequest
from iportal.web.auth import LOGIN_GATE, PERSON, USER
from iportal.web.context import client_ip, settings_of
from iportal.web.pages import page, refused_page

ASKED = N_(
    "We e-mailed you and %(email)s a link each. The role moves when both of you have "
    "confirmed, within %(days)s days."
)
PAGE = "sharing/main_contact.html"
CONFIRM_PAGE = "sharing/main_contact_confirm.html"


@post(
    "/api/v1/account/main-contact",
    name="sharing.main_contact_handover",
    tags=["sharing"],
    dependencies=USER,
    status_code=HTTP_202_ACCEPTED,
)
async def api_main_contact_handover(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: JSONBody[MainContactRequest],
) -> Response[MainContactAsked]:
    """Hands the main contact role to a shared user of the account who logs in: both get
    an e-mail with a single-use link (five days), and the role moves when both have
    confirmed; the former main contact stays a shared user with every number. 403 for
    anyone but the main contact of a B2B account; 404 for an id that is not a shared
    user of the account; 409 for one who has not chosen a password yet."""
    asked = await main_contact.request_handover(
        settings_of(request), user.user_id, data.shared_user_id, ip=client_ip(request)
    )
    message = gettext(ASKED, email=asked.email, days=main_contact.HANDOVER_LIFETIME.days)
    return Response(
        MainContactAsked(message, asked.email, asked.expires_at),
        status_code=HTTP_202_ACCEPTED,
        headers={"Cache-Control": "no-store"},
    )


async def _ask_page(
    request: Request[Any, Any, Any],
    user: SessionUser,
    *,
    error: DomainError | None = None,
    asked: str = "",
) -> Template:
    """The account's shared users who may take the role (refused: the reason, 403)."""
    try:
        candidates = await shared_users.list_shared_users(user.user_id)
    except DomainError as refused:
        return refused_page(request, PAGE, refused, candidates=[], asked="")
    context: dict[str, Any] = {
        "candidates": [c for c in candidates if c.has_login],
        "asked": asked,
    }
    if error is not None:
        return refused_page(request, PAGE, error, **context)
    return page(request, PAGE, error=None, **context)


@get("/account/main-contact", name="sharing.main_contact_page", include_in_schema=False)
async def main_contact_page(
    request: Request[Any, Any, Any], user: NamedDependency[SessionUser]
) -> Template:
    return await _ask_page(request, user)


@post("/account/main-contact", name="sharing.main_contact_form", include_in_schema=False)
async def main_contact_form(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    data: URLEncodedBody[dict[str, str]],
) -> Template:
    raw = data.get("shared_user_id", "")
    try:
        asked = await main_contact.request_handover(
            settings_of(request),
            user.user_id,
            int(raw) if raw.isdigit() else 0,
            ip=client_ip(request),
        )
    except DomainError as error:
        return await _ask_page(request, user, error=error)
    message = gettext(ASKED, email=asked.email, days=main_contact.HANDOVER_LIFETIME.days)
    return await _ask_page(request, user, asked=message)


@get(
    "/account/main-contact/confirm",
    name="sharing.main_contact_confirm_page",
    include_in_schema=False,
)
async def main_contact_confirm_page(
    request: Request[Any, Any, Any], token: Annotated[str, QueryParameter()] = ""
) -> Template:
    valid = await main_contact.handover_link_is_valid(settings_of(request), token)
    response = page(
        request,
        CONFIRM_PAGE,
        status_code=200 if valid else 410,
        token=token if valid else "",
        valid=valid,
        done=None,
        error=None,
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


@post(
    "/account/main-contact/confirm",
    name="sharing.main_contact_confirm",
    include_in_schema=False,
)
async def main_contact_confirm(
    request: Request[Any, Any, Any], data: URLEncodedBody[dict[str, str]]
) -> Template:
    try:
        done = await main_contact.confirm_handover(
            settings_of(request), data.get("token", ""), ip=client_ip(request)
        )
    except Gone as error:
        return refused_page(request, CONFIRM_PAGE, error, token="", valid=False, done=None)
    return page(request, CONFIRM_PAGE, token="", valid=True, done=done, error=None)


# The asking page sits behind the login gate; the link's page needs none.
pages = Router(
    path="/",
    guards=LOGIN_GATE,
    dependencies=PERSON,
    route_handlers=[main_contact_page, main_contact_form],
)
router = Router(
    path="/",
    route_handlers=[
        api_main_contact_handover,
        main_contact_confirm_page,
        main_contact_confirm,
        pages,
    ],
)
