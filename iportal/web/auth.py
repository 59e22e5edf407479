"""Who is calling: an issuer's billing system (API key) or a person (session, or a
read-only personal API token).

API controllers declare what they need as a dependency (`issuer` or `user`), so an
unauthenticated call never reaches a handler. People's pages sit on routers behind
one login gate (`guards=LOGIN_GATE, dependencies=PERSON`): a browser without a session
is sent to the login page and back (see `iportal.web.errors`), and handlers are given
the `user`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler

from iportal.accounts.services import (
    KEY_REQUIRED,
    IssuerPrincipal,
    authenticate_issuer,
    authenticate_personal_token,
    is_personal_token,
)

# Re-exported: the caller every controller is given, also to those of notifications.
from iportal.accounts.services import SessionUser as SessionUser
from iportal.errors import Forbidden, NotAuthenticated
from iportal.i18n import N_, current_language, negotiate
from iportal.web.context import bearer_token, carries_bearer, current_user, load_user

SAFE_METHODS = frozenset({"GET", "HEAD"})
TOKEN_REQUIRED = N_("Log in, or send a personal API token (Authorization: Bearer ipt_…).")
READ_ONLY = N_("Personal API tokens are read-only: they can read, never change anything.")


async def issuer_from_request(request: Request[Any, Any, Any]) -> IssuerPrincipal:
    """The calling issuer; from here on, messages are in the issuer's language unless
    the request asks for another with `Accept-Language`."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated(KEY_REQUIRED)
    issuer = await authenticate_issuer(token)
    if not negotiate(request.headers.get("accept-language")):
        current_language.set(issuer.language)
    return issuer


async def user_from_request(request: Request[Any, Any, Any]) -> SessionUser:
    """The person calling: by a personal API token when the request carries a bearer
    header (the session cookie is then ignored, and a header that does not
    authenticate is a 401), otherwise by the browser session.

    Personal tokens are read-only: they authenticate GET and HEAD only, and any
    other method with one is refused (403), whatever the endpoint.
    """
    if not carries_bearer(request):
        user = current_user(request)
        if user is None:
            raise NotAuthenticated()
        return user
    token = bearer_token(request)
    if token is None or not is_personal_token(token):
        raise NotAuthenticated(TOKEN_REQUIRED)
    user = await authenticate_personal_token(token)
    if request.method not in SAFE_METHODS:
        raise Forbidden(READ_ONLY)
    if not negotiate(request.headers.get("accept-language")):
        current_language.set(user.language)
    return user


async def logged_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The login gate of people's pages: a browser session, or `NotAuthenticated`.
    A personal API token opens the API only, never a page."""
    if await load_user(connection) is None:
        raise NotAuthenticated()


async def person_from_request(request: Request[Any, Any, Any]) -> SessionUser:
    """The person behind the gate, for the handler."""
    user = current_user(request)
    if user is None:  # a page put on a router without the gate
        raise NotAuthenticated()
    return user


ISSUER = {"issuer": Provide(issuer_from_request)}
USER = {"user": Provide(user_from_request)}
LOGIN_GATE = [logged_in]
PERSON = {"user": Provide(person_from_request)}
