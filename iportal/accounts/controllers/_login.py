"""Login and logout: the pages for people (password, then the code when TOTP is on)
and the JSON API for programs."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.params import JSONBody, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_204_NO_CONTENT

from iportal.accounts import services
from iportal.accounts.schemas import LoginRequest, Profile
from iportal.errors import NotAuthenticated, TooManyAttempts
from iportal.settings import Settings
from iportal.web.context import (
    client_ip,
    cookie,
    current_user,
    session_cookie_name,
    settings_of,
)
from iportal.web.pages import page, refused_page
from iportal.web.redirects import safe_next


def pending_cookie_name(settings: Settings) -> str:
    """The cookie of a login waiting for its code: a random id, the state is server-side."""
    return "__Host-iportal_login" if settings.secure_cookies else "iportal_login"


def device_cookie_name(settings: Settings) -> str:
    """The cookie that makes this browser a known device of the account it last logged
    into (signed; it outlives logouts, see `services._devices`)."""
    return "__Host-iportal_device" if settings.secure_cookies else "iportal_device"


def device_cookie(request: Request[Any, Any, Any]) -> str | None:
    return request.cookies.get(device_cookie_name(settings_of(request)))


def _with_session(
    request: Request[Any, Any, Any],
    response: Response[Any],
    new: services.NewSession,
    *,
    browser: bool = True,
) -> None:
    """The session's cookie; for a person's browser (the login pages, not the JSON API,
    whose answer sets the session cookie alone) the device cookie too."""
    settings = settings_of(request)
    response.set_cookie(
        cookie(
            settings,
            session_cookie_name(settings),
            new.cookie_value,
            max_age=settings.session_max_hours * 3600,
        )
    )
    if browser and new.device_cookie:
        response.set_cookie(
            cookie(
                settings,
                device_cookie_name(settings),
                new.device_cookie,
                max_age=int(services.DEVICE_COOKIE_LIFETIME.total_seconds()),
            )
        )
    pending = pending_cookie_name(settings)
    if pending in request.cookies:  # most logins never had one: no header to build
        response.delete_cookie(pending, path="/")


def _logout_response(request: Request[Any, Any, Any], response: Response[Any]) -> Response[Any]:
    settings = settings_of(request)
    response.delete_cookie(session_cookie_name(settings), path="/")
    return response


@get("/login", name="accounts.login_page", include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any],
    next_path: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Template:
    return page(request, "accounts/login.html", next=safe_next(next_path), error=None, username="")


@post("/login", name="accounts.login", include_in_schema=False)
async def login_form(
    request: Request[Any, Any, Any],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    settings = settings_of(request)
    username, target = data.get("username", ""), safe_next(data.get("next"))
    try:
        outcome = await services.begin_login(
            settings,
            username,
            data.get("password", ""),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            device_cookie=device_cookie(request),
        )
    except (NotAuthenticated, TooManyAttempts) as error:
        return refused_page(request, "accounts/login.html", error, next=target, username=username)
    if isinstance(outcome, services.PendingLogin):
        code_page: Response[Any] = Redirect(
            path=f"/login/code?{urlencode({'next': target})}", status_code=303
        )
        code_page.set_cookie(
            cookie(
                settings,
                pending_cookie_name(settings),
                outcome.cookie_value,
                max_age=int(services.PENDING_LOGIN_LIFETIME.total_seconds()),
            )
        )
        return code_page
    response: Response[Any] = Redirect(path=target, status_code=303)
    _with_session(request, response, outcome)
    return response


@get("/login/code", name="accounts.login_code_page", include_in_schema=False)
async def login_code_page(
    request: Request[Any, Any, Any],
    next_path: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Response[Any]:
    settings = settings_of(request)
    waiting = request.cookies.get(pending_cookie_name(settings))
    if not await services.pending_login_exists(settings, waiting, device_cookie(request)):
        return Redirect(path=f"/login?{urlencode({'next': safe_next(next_path)})}", status_code=303)
    return page(request, "accounts/login_code.html", next=safe_next(next_path), error=None)


@post("/login/code", name="accounts.login_code", include_in_schema=False)
async def login_code_form(
    request: Request[Any, Any, Any],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    settings = settings_of(request)
    target = safe_next(data.get("next"))
    try:
        new = await services.finish_login(
            settings,
            request.cookies.get(pending_cookie_name(settings)),
            data.get("code", ""),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            device_cookie=device_cookie(request),
        )
    except (NotAuthenticated, TooManyAttempts) as error:
        return refused_page(request, "accounts/login_code.html", error, next=target)
    response: Response[Any] = Redirect(path=target, status_code=303)
    _with_session(request, response, new)
    return response


@post("/logout", name="accounts.logout", include_in_schema=False)
async def logout_form(request: Request[Any, Any, Any]) -> Response[Any]:
    user = current_user(request)
    if user is not None:
        await services.end_session(user, ip=client_ip(request))
    return _logout_response(request, Redirect(path="/", status_code=303))


@post("/api/v1/auth/login", name="accounts.api_login", tags=["session"], status_code=200)
async def api_login(
    request: Request[Any, Any, Any], data: JSONBody[LoginRequest]
) -> Response[Profile]:
    """Log in with a username (enterprise number or e-mail) and password, plus `totp`
    (the current code or a recovery code) when two-step verification is on; sets the
    session cookie. Every failure answers 401 with the same message; 429 when throttled
    (10 failed attempts per 15 minutes per address, and per account; a browser that
    sends the device cookie the login page gave it for this account is counted on its
    own)."""
    new = await services.log_in(
        settings_of(request),
        data.username,
        data.password,
        totp=data.totp,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        device_cookie=device_cookie(request),
    )
    user = new.user
    response = Response(
        Profile(user.user_id, user.email, user.first_name, user.last_name, user.language),
        headers={"X-CSRF-Token": new.csrf_token, "Cache-Control": "no-store"},
    )
    _with_session(request, response, new, browser=False)
    return response


@post(
    "/api/v1/auth/logout",
    name="accounts.api_logout",
    status_code=HTTP_204_NO_CONTENT,
    tags=["session"],
)
async def api_logout(request: Request[Any, Any, Any]) -> Response[None]:
    user = current_user(request)
    if user is not None:
        await services.end_session(user, ip=client_ip(request))
    return _logout_response(request, Response(None, status_code=HTTP_204_NO_CONTENT))
