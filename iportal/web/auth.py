"""Who is calling: an issuer's billing system (API key) or a person (session).

Controllers declare what they need as a dependency (`issuer` or `user`), so an
unauthenticated call never reaches a handler.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from iportal.accounts.services import (
    KEY_REQUIRED,
    IssuerPrincipal,
    SessionUser,
    authenticate_issuer,
)
from iportal.errors import NotAuthenticated
from iportal.i18n import current_language, negotiate
from iportal.web.context import current_user


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


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
    user = current_user(request)
    if user is None:
        raise NotAuthenticated()
    return user


ISSUER = {"issuer": Provide(issuer_from_request)}
USER = {"user": Provide(user_from_request)}
