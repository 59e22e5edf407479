"""What every request needs before its handler runs: who is asking, in which
language, and whether a state-changing request really comes from our own pages.

CSRF is our own, not a library's: its token is bound to the server-side session and
checked here, in one place. A logged-in browser must echo its session's token (form
field `csrf_token` or header `X-CSRF-Token`); an anonymous form must echo the random
value of its CSRF cookie. Requests with a bearer token carry no ambient
authority and anonymous JSON calls cannot be sent cross-site without a CORS
preflight, so neither needs a token.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie

from iportal.accounts.services import SessionUser, session_user
from iportal.columns import LANGUAGES
from iportal.errors import Forbidden
from iportal.i18n import DEFAULT_LANGUAGE, N_, current_language, negotiate
from iportal.security import same
from iportal.settings import Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Authenticated by API key only: no cookie ever grants anything there.
KEY_ONLY_PATHS = ("/api/v1/issuer/",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
LANGUAGE_COOKIE = "iportal_lang"
CSRF_FAILED = N_(
    "This form has expired or was not sent from this site. Please reload the page and try again."
)


def settings_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


def session_cookie_name(settings: Settings) -> str:
    return "__Host-iportal_session" if settings.secure_cookies else "iportal_session"


def csrf_cookie_name(settings: Settings) -> str:
    return "__Host-iportal_csrf" if settings.secure_cookies else "iportal_csrf"


def cookie(settings: Settings, key: str, value: str, max_age: int | None = None) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path="/",
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        max_age=max_age,
    )


def current_user(request: Request[Any, Any, Any]) -> SessionUser | None:
    user: SessionUser | None = request.state.get("user")
    return user


async def load_user(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionUser | None:
    """The session's user, read from the database once per request: the login gate
    (a guard, which runs before `before_request`) and the hook both ask."""
    if "user" not in connection.state:
        settings = settings_of(connection)
        cookie_value = connection.cookies.get(session_cookie_name(settings))
        connection.state.user = await session_user(settings, cookie_value)
    user: SessionUser | None = connection.state.user
    return user


def client_ip(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else ""


def choose_language(request: Request[Any, Any, Any], user: SessionUser | None) -> str:
    """Explicit choice (cookie from the language switch) first, then the profile,
    then the browser's `Accept-Language`, then English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    if user is not None and user.language in LANGUAGES:
        return user.language
    return negotiate(request.headers.get("accept-language")) or DEFAULT_LANGUAGE


def _bearer(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("authorization", "").lower().startswith("bearer ")


async def _check_csrf(request: Request[Any, Any, Any], user: SessionUser | None) -> None:
    if request.method not in UNSAFE_METHODS or _bearer(request):
        return
    if request.url.path.startswith(KEY_ONLY_PATHS):
        return
    is_form = request.headers.get("content-type", "").startswith(FORM_TYPES)
    if user is None and not is_form:
        return
    settings = settings_of(request)
    expected = user.csrf_token if user else request.cookies.get(csrf_cookie_name(settings))
    given = request.headers.get("x-csrf-token")
    if given is None and is_form:
        given = (await request.form()).get("csrf_token")
    if not expected or not isinstance(given, str) or not same(given, expected):
        raise Forbidden(CSRF_FAILED)


async def before_request(request: Request[Any, Any, Any]) -> None:
    """Loads the session's user, picks the language and checks CSRF, in that order,
    so that even a CSRF refusal is written in the reader's language."""
    settings = settings_of(request)
    user = await load_user(request)
    request.state.language = choose_language(request, user)
    current_language.set(request.state.language)
    if user is None and not request.cookies.get(csrf_cookie_name(settings)):
        request.state.new_csrf_cookie = secrets.token_urlsafe(32)
    await _check_csrf(request, user)


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The token a form on this page must send back."""
    user = current_user(request)
    if user is not None:
        return user.csrf_token
    return request.state.get("new_csrf_cookie") or request.cookies.get(
        csrf_cookie_name(settings_of(request)), ""
    )


def set_csrf_cookie(request: Request[Any, Any, Any], response: Response[Any]) -> None:
    value = request.state.get("new_csrf_cookie")
    if value:
        settings = settings_of(request)
        response.set_cookie(cookie(settings, csrf_cookie_name(settings), value))
