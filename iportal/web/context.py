"""What every request needs before its handler runs: who is asking, in which
language, and whether a state-changing request really comes from our own pages.

The rules for requests a browser sends with our cookies live here, in one place,
and run before any handler (anonymous requests included):
- an unsafe request (POST, PUT, PATCH, DELETE) that the browser says comes from
  another site (`Sec-Fetch-Site`, else `Origin`) is refused (403);
- the JSON API reads `application/json` bodies only (415 otherwise), unless its
  operation declares a multipart body: a cross-site page can send a `text/plain`
  form, never JSON, without a CORS preflight we do not grant;
- CSRF is our own, not a library's: a logged-in browser must echo its session's
  token (form field `csrf_token` or header `X-CSRF-Token`); an anonymous form must
  echo the random value of its CSRF cookie.
A request with an `Authorization: Bearer` header is authenticated by that header
alone: its cookies are ignored, so it carries no ambient authority and none of
these checks applies to it. Nor do they apply to the one-click unsubscribe address
of notices (`TOKEN_PATHS`): its signed token is its only authority, and a mail
provider posts to it from its own servers, without our cookies or CSRF token.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType

from iportal.accounts.services import SessionUser, session_user
from iportal.columns import LANGUAGES
from iportal.errors import DomainError, Forbidden
from iportal.i18n import DEFAULT_LANGUAGE, N_, current_language, negotiate
from iportal.security import same
from iportal.settings import Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Authenticated by API key only: no cookie ever grants anything there.
KEY_ONLY_PATHS = ("/api/v1/issuer/",)
# Authorized by the signed token in the path only (RFC 8058 one-click unsubscribe).
TOKEN_PATHS = ("/unsubscribe/",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
LANGUAGE_COOKIE = "iportal_lang"
CSRF_FAILED = N_(
    "This form has expired or was not sent from this site. Please reload the page and try again."
)
CROSS_SITE = N_("This request did not come from this site.")
# `Sec-Fetch-Site` values of a request this site's own pages (or the person, typing an
# address) started; `same-site` is a sibling subdomain, which is not us.
OWN_SITE = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}
JSON = "application/json"


class UnsupportedBody(DomainError):
    """A body of another type than the operation reads: a rule of HTTP, so it lives
    here rather than among the services' errors; the one handler maps it all the same."""

    status_code: ClassVar[int] = 415
    default_message: ClassVar[str] = N_("Send the body of this request as %(media_type)s.")


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


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def carries_bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """An `Authorization: Bearer …` header, even an empty or wrong one: the request is
    then authenticated by it alone (or refused), never by a cookie beside it."""
    scheme = connection.headers.get("authorization", "").strip().partition(" ")[0]
    return scheme.lower() == "bearer"


async def load_user(connection: ASGIConnection[Any, Any, Any, Any]) -> SessionUser | None:
    """The session's user, read from the database once per request: the login gate
    (a guard, which runs before `before_request`) and the hook both ask. None when a
    bearer header is there: its cookie is not looked at."""
    if "user" not in connection.state:
        connection.state.user = None
        if not carries_bearer(connection):
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


def _origin(url: str) -> str | None:
    """`scheme://host[:port]` of a URL as a browser writes it in `Origin`: lower case,
    without the scheme's default port; None when it is no http(s) origin (`null`)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def own_origins(request: Request[Any, Any, Any]) -> set[str]:
    """The portal's origin (`IPORTAL_BASE_URL`) and the one the request was sent to
    (its scheme and `Host`: the demo on another port, a second host name). The second
    is safe to trust: a browser sets `Host` to the server it talks to, so no page of
    another site has the `Origin` of our `Host` (a DNS-rebinding page that does is a
    site our cookies never go to)."""
    origins = {
        _origin(settings_of(request).base_url),
        _origin(f"{request.url.scheme}://{request.headers.get('host', '')}"),
    }
    return {origin for origin in origins if origin}


def _check_same_site(request: Request[Any, Any, Any]) -> None:
    """A browser says where a request comes from: `Sec-Fetch-Site` (every current
    browser), else `Origin`; a program sends neither and is not refused."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site.strip().lower() not in OWN_SITE:
            raise Forbidden(CROSS_SITE)
        return
    origin = request.headers.get("origin")
    if origin is not None and _origin(origin) not in own_origins(request):
        raise Forbidden(CROSS_SITE)


def _has_body(request: Request[Any, Any, Any]) -> bool:
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length != "0")


def _media_type(request: Request[Any, Any, Any]) -> str:
    """The body's media type: `application/json` for `Application/JSON; charset=utf-8`."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _declared_body(request: Request[Any, Any, Any]) -> str:
    """The body an API operation reads: multipart when its handler's `data` is a
    `MultipartBody` (the issuer's upload), JSON otherwise."""
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    kind = getattr(data.kwarg_definition, "media_type", None) if data else None
    return RequestEncodingType.MULTI_PART.value if kind == RequestEncodingType.MULTI_PART else JSON


def _check_body_type(request: Request[Any, Any, Any]) -> None:
    if not request.url.path.startswith("/api/") or not _has_body(request):
        return
    expected = _declared_body(request)
    if _media_type(request) != expected:
        raise UnsupportedBody(media_type=expected)


async def _check_csrf(request: Request[Any, Any, Any], user: SessionUser | None) -> None:
    if request.url.path.startswith(KEY_ONLY_PATHS):
        return
    content_type = _media_type(request)
    is_form = content_type in FORM_TYPES
    # Anonymous JSON (or nothing at all) needs no token: no other site can send JSON
    # here without a CORS preflight. Any other body (`text/plain`, a form) needs it.
    if user is None and (content_type == JSON or not _has_body(request)):
        return
    settings = settings_of(request)
    expected = user.csrf_token if user else request.cookies.get(csrf_cookie_name(settings))
    given = request.headers.get("x-csrf-token")
    if given is None and is_form:
        given = (await request.form()).get("csrf_token")
    if not expected or not isinstance(given, str) or not same(given, expected):
        raise Forbidden(CSRF_FAILED)


async def check_request(request: Request[Any, Any, Any], user: SessionUser | None) -> None:
    """The rules for unsafe requests, in order: sent from this site, a body of the
    declared type, the CSRF token. A bearer header's request has no cookie to abuse:
    only its body's type is checked."""
    if request.method not in UNSAFE_METHODS:
        return
    # The browser's cookies speak for it, unless a header or the path's token does.
    ambient = not carries_bearer(request) and not request.url.path.startswith(TOKEN_PATHS)
    if ambient:
        _check_same_site(request)
    _check_body_type(request)
    if ambient:
        await _check_csrf(request, user)


async def before_request(request: Request[Any, Any, Any]) -> None:
    """Loads the session's user, picks the language and checks the request (same site,
    body type, CSRF), in that order, so that even a refusal is written in the reader's
    language."""
    settings = settings_of(request)
    user = await load_user(request)
    request.state.language = choose_language(request, user)
    current_language.set(request.state.language)
    if user is None and not request.cookies.get(csrf_cookie_name(settings)):
        request.state.new_csrf_cookie = secrets.token_urlsafe(32)
    await check_request(request, user)


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
