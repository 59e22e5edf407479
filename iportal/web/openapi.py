"""The OpenAPI document at `/schema` as the contract: every status an operation can
answer, with the error body; the real content types of files; how a caller
authenticates (a bearer token or key, or a browser session that echoes its CSRF token).

Litestar documents what a handler returns when all goes well. What can go wrong follows
from what the operation takes, and is added here once for every operation instead of in
each decorator: a caller to identify (401), a change a read-only token or another site
may not make (403), an object in the path (404), a body (400, 413, 415, 422), query
parameters (400, 422), and the database (503). What only some operations answer (409,
410, 429, …) is listed by route name in `DOMAIN_ERRORS`, beside the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Parameters a handler takes that are not the request's own parameters.
NOT_PARAMETERS = frozenset({"request", "data", "user", "issuer", "scope", "state"})

DESCRIPTIONS = {
    400: "The request could not be read: a parameter or the body is not of its type.",
    401: "No valid credentials: log in, or send a personal API token or issuer API key.",
    403: "Not allowed: a read-only token tried a change, the request came from another "
    "site or without its session's X-CSRF-Token, or the caller's role does not allow it.",
    404: "No such object, or not one the caller may see (the same answer for both).",
    409: "It conflicts with what is already there.",
    410: "Gone: the code or link was used, replaced or has expired.",
    413: "The body is larger than the limit.",
    415: "The body is not of an accepted type (application/json, or the multipart form).",
    422: "Some of the information given is not valid; `detail` says what.",
    429: "Too many attempts: wait for the seconds in Retry-After.",
    503: "The database cannot be reached for a moment: try again after Retry-After.",
}

# What only some operations answer, by route name.
DOMAIN_ERRORS: dict[str, tuple[int, ...]] = {
    "accounts.api_login": (401, 429),
    "accounts.api_password_reset": (429,),
    "accounts.api_password_reset_confirm": (410, 429),
    "accounts.api_password_change": (429,),
    "accounts.api_totp_start": (409,),
    "accounts.api_totp_confirm": (409, 429),
    "accounts.api_totp_remove": (409, 429),
    # Anyone but a main contact; a client code not in the caller's accounts.
    "accounts.api_audit_events": (403, 404),
    "accounts.activation_check": (404, 409, 410, 429),
    "accounts.activation_start": (404, 409, 410, 429),
    "accounts.activation_complete": (404, 409, 410, 429),
    "accounts.my_client_number_activate": (404, 409, 410, 429),
    # A client code in the filters that the caller does not see is "not found".
    "documents.list": (404,),
    "documents.summary": (404,),
    "documents.export_csv": (404,),
    "documents.export_xlsx": (404,),
    "documents.export_zip": (404,),
    "documents.issuer_list": (404,),
    "documents.publish": (409,),
    # The attachments are read in the sandbox: an XML too costly to read again.
    "documents.attachments": (422,),
    "documents.attachment": (422,),
    # A PDF made from the XML in the sandbox: an XML too costly to render.
    "documents.pdf": (422,),
    "documents.issuer_pdf": (422,),
    # Anyone but the main contact of a B2B account, even to read the list.
    "sharing.shared_users": (403,),
    # Already a shared user of the account; renaming someone who has a login.
    "sharing.shared_user_create": (409,),
    "sharing.shared_user_update": (409,),
    # The number already forwards to that address, or has ten addresses.
    "notifications.forwarding_address_add": (409,),
    # Not a shared user of the account; one who has no login yet.
    "sharing.main_contact_handover": (404, 409),
}

# The files some operations answer with, instead of JSON.
FILE_TYPES = {
    "documents.pdf": "application/pdf",
    "documents.duplicate": "application/pdf",
    "documents.xml": "application/xml",
    "documents.issuer_pdf": "application/pdf",
    "documents.issuer_xml": "application/xml",
    # Its declared type when a PDF, PNG or JPEG that is one, else this.
    "documents.attachment": "application/octet-stream",
    "documents.export_csv": "text/csv",
    "documents.export_xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "documents.export_zip": "application/zip",
}

SECURITY_SCHEMES = {
    "bearer": SecurityScheme(
        type="http",
        scheme="bearer",
        description="A personal read-only API token (`ipt_…`) or an issuer API key (`ipk_…`).",
    ),
    "session": SecurityScheme(
        type="apiKey",
        name="iportal_session",
        security_scheme_in="cookie",
        description="A browser session, opened by `POST /api/v1/auth/login` (the cookie "
        "is `__Host-iportal_session` when the portal is served over https).",
    ),
    "csrf": SecurityScheme(
        type="apiKey",
        name="X-CSRF-Token",
        security_scheme_in="header",
        description="The session's CSRF token, given in this header by the login answer: "
        "every unsafe request of a browser session echoes it.",
    ),
}


@dataclass(frozen=True)
class ErrorBody:
    """What every error answers, in the caller's language."""

    status_code: int
    detail: str


def _callers(handler: HTTPRouteHandler) -> set[str]:
    return set(handler.resolve_dependencies()) & {"user", "issuer"}


def _unsafe(handler: HTTPRouteHandler) -> bool:
    return bool(set(handler.http_methods) - SAFE_METHODS)


def _error_codes(route: HTTPRoute, handler: HTTPRouteHandler) -> set[int]:
    takes = set(handler.parsed_fn_signature.parameters)
    path = set(route.path_parameters)
    codes = {503}
    if _callers(handler):
        codes.add(401)
    if _unsafe(handler):
        codes.add(403)
    if path:
        codes |= {400, 404, 422}
    if "data" in takes:
        codes |= {400, 413, 415, 422}
    if takes - NOT_PARAMETERS - path:
        codes |= {400, 422}
    codes.update(DOMAIN_ERRORS.get(handler.name or "", ()))
    return codes


def _security(handler: HTTPRouteHandler) -> list[dict[str, list[str]]] | None:
    callers = _callers(handler)
    if "issuer" in callers:
        return [{"bearer": []}]
    if "user" not in callers:
        return None
    if _unsafe(handler):  # personal tokens are read-only
        return [{"session": [], "csrf": []}]
    return [{"bearer": []}, {"session": []}]


def _api_handlers(routes: Iterable[object]) -> Iterable[tuple[HTTPRoute, HTTPRouteHandler]]:
    for route in routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/"):
            for handler in route.route_handlers:
                if handler.include_in_schema and handler.name:
                    yield route, handler


def document_errors(app: Litestar) -> None:
    """Complete each API operation's entry before the document is first built (it is
    built on the first request for it). Handlers are module objects shared by every
    app made in a process, so this only ever sets the same values again."""
    for route, handler in _api_handlers(app.routes):
        responses = dict(handler.responses or {})
        if handler.status_code == HTTP_204_NO_CONTENT:  # no body, whatever the annotation
            responses[HTTP_204_NO_CONTENT] = ResponseSpec(None, description="Done.")
        for code in sorted(_error_codes(route, handler)):
            responses.setdefault(code, ResponseSpec(ErrorBody, description=DESCRIPTIONS[code]))
        handler.responses = responses
        if (media_type := FILE_TYPES.get(handler.name or "")) is not None:
            handler.media_type = media_type
        if (security := _security(handler)) is not None:
            handler.security = security


def components() -> Components:
    return Components(security_schemes=dict(SECURITY_SCHEMES))
