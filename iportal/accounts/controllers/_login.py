"""Login and logout: the page for people and the JSON API for programs."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post
from litestar.params import JSONBody, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_204_NO_CONTENT

from iportal.accounts import services
from iportal.accounts.schemas import LoginRequest, Profile
from iportal.errors import NotAuthenticated
from iportal.web.context import (
    client_ip,
    cookie,
    current_user,
    session_cookie_name,
    settings_of,
)
from iportal.web.pages import page


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _with_session(request: Request[Any, Any, Any], response: Response[Any], new: Any) -> None:
    settings = settings_of(request)
    response.set_cookie(
        cookie(
            settings,
            session_cookie_name(settings),
            new.cookie_value,
            max_age=settings.session_max_hours * 3600,
        )
    )


async def _login(request: Request[Any, Any, Any], username: str, password: str) -> Any:
    user = await services.authenticate(username, password, ip=client_ip(request))
    return await services.start_session(
        settings_of(request),
        user,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )


def _logout_response(request: Request[Any, Any, Any], response: Response[Any]) -> Response[Any]:
    settings = settings_of(request)
    response.delete_cookie(session_cookie_name(settings), path="/")
    return response


@get("/login", name="accounts.login_page", include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any],
    next_path: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Template:
    return page(request, "accounts/login.html", next=_safe_next(next_path), error=None, username="")


@post("/login", name="accounts.login", include_in_schema=False)
async def login_form(
    request: Request[Any, Any, Any],
    data: URLEncodedBody[dict[str, str]],
) -> Response[Any]:
    username, target = data.get("username", ""), _safe_next(data.get("next"))
    try:
        new = await _login(request, username, data.get("password", ""))
    except NotAuthenticated as error:
        return page(
            request,
            "accounts/login.html",
            status_code=401,
            next=target,
            error=error.translated(),
            username=username,
        )
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
    """Log in with a username (enterprise number or e-mail) and password; sets the
    session cookie. Every failure answers 401 with the same message."""
    new = await _login(request, data.username, data.password)
    user = new.user
    response = Response(
        Profile(user.user_id, user.email, user.first_name, user.last_name, user.language),
        headers={"X-CSRF-Token": new.csrf_token, "Cache-Control": "no-store"},
    )
    _with_session(request, response, new)
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


@get("/api/v1/me", name="accounts.me", tags=["profile"])
async def me(request: Request[Any, Any, Any]) -> Response[Profile]:
    user = current_user(request)
    if user is None:
        raise NotAuthenticated()
    return Response(
        Profile(user.user_id, user.email, user.first_name, user.last_name, user.language),
        headers={"Cache-Control": "no-store"},
    )
