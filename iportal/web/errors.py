"""The one place errors become HTTP: JSON for `/api/`, an HTML page for people.

Domain errors carry their status and a message translated here; Litestar's own
HTTP errors (validation, unknown route, wrong method) keep their status, except that
a path parameter out of its range names nothing (404). A database that cannot be
reached is a 503 with `Retry-After`; a value PostgreSQL refuses (a NUL, a number
beyond its column) that slipped past `web.inputs` is the caller's 422. Any other
exception is logged with its traceback and answered with a plain 500 that never
shows it.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from iportal import db
from iportal.errors import DomainError, NotAuthenticated, TooManyAttempts
from iportal.i18n import N_, current_language, gettext
from iportal.web.context import choose_language
from iportal.web.pages import PRIVATE_PAGE_HEADERS, page
from iportal.web.redirects import safe_next

log = logging.getLogger(__name__)

STATUS_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("Please log in first."),
    403: N_("You are not allowed to do this."),
    404: N_("This page does not exist, or it is not yours to see."),
    405: N_("This action is not available here."),
    409: N_("This conflicts with what is already there."),
    413: N_("What was sent is too large."),
    415: N_("This kind of file or request is not accepted here."),
    422: N_("Some of the information given is not valid."),
    429: N_("Too many attempts. Please try again later."),
    500: N_("Something went wrong on our side. Please try again in a moment."),
    503: N_("The portal cannot reach its database at the moment. Please try again in a minute."),
}
UNSTORABLE_TEXT = N_(
    "The request contains a character that cannot be stored (a control character)."
)
NUMBER_OUT_OF_RANGE = N_("A number in the request is out of range.")
# Long enough for a database restart or a fail-over, short enough for a person to wait.
RETRY_AFTER_SECONDS = 60


def _is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def _validation_detail(error: ValidationException) -> str:
    problems = error.extra if isinstance(error.extra, list) else []
    parts = []
    for problem in problems:
        if isinstance(problem, dict):
            key = problem.get("key") or problem.get("source") or ""
            parts.append(f"{key}: {problem.get('message', '')}".strip(": "))
    return "; ".join(parts)


def _ensure_language(request: Request[Any, Any, Any]) -> None:
    if "language" not in request.state:  # failed before the request context was loaded
        current_language.set(choose_language(request, request.state.get("user")))


def _respond(
    request: Request[Any, Any, Any], status: int, detail: str, headers: dict[str, str] | None
) -> Response[Any]:
    if _is_api(request):
        return Response(
            {"status_code": status, "detail": detail},
            status_code=status,
            media_type=MediaType.JSON,
            headers={"Cache-Control": "no-store", **(headers or {})},
        )
    response = page(request, "error.html", status_code=status, status=status, detail=detail)
    response.headers.update(headers or {})
    return response


def _to_login(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """A person who is not logged in is sent to the login page, and back after."""
    if _is_api(request) or request.method != "GET":
        return None
    target = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return Redirect(path=f"/login?{urlencode({'next': target})}", status_code=303)


def domain_error(request: Request[Any, Any, Any], error: DomainError) -> Response[Any]:
    if isinstance(error, NotAuthenticated) and (login := _to_login(request)) is not None:
        return login
    _ensure_language(request)
    headers = {}
    if isinstance(error, TooManyAttempts):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return _respond(request, error.status_code, error.translated(), headers)


def _from_path(error: ValidationException) -> bool:
    problems = error.extra if isinstance(error.extra, list) else []
    return bool(problems) and all(
        isinstance(problem, dict) and problem.get("source") == "path" for problem in problems
    )


def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    _ensure_language(request)
    status = error.status_code
    if isinstance(error, ValidationException) and _from_path(error):
        # An id out of its column's range (web.inputs.SerialId) is like any unknown id.
        return _respond(request, 404, gettext(STATUS_MESSAGES[404]), None)
    if status >= 500:
        return internal_error(request, error)
    detail = gettext(STATUS_MESSAGES.get(status, STATUS_MESSAGES[400]))
    if isinstance(error, ValidationException):
        specifics = _validation_detail(error)
        detail = f"{detail} {specifics}".strip() if specifics else detail
    elif status in (400, 413, 415, 422) and error.detail and _is_api(request):
        detail = f"{detail} ({error.detail})"
    return _respond(request, status, detail, dict(error.headers or {}))


def _refused_value(error: Exception) -> str | None:
    """The caller's mistake, in words, when PostgreSQL refused one of their values."""
    if db.is_unstorable_text(error):
        return UNSTORABLE_TEXT
    if db.is_out_of_range(error):
        return NUMBER_OUT_OF_RANGE
    return None


def _log_reason(request: Request[Any, Any, Any], error: Exception) -> None:
    """Said on the request's log line (`web.requestlog`): one line, no traceback."""
    request.state.log_reason = f"{type(error).__name__}: {error}"[:300]


def internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    _ensure_language(request)
    if db.is_unreachable(error):
        _log_reason(request, error)
        detail = gettext(STATUS_MESSAGES[503])
        return _respond(request, 503, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    if (refused := _refused_value(error)) is not None:
        _log_reason(request, error)
        return _respond(request, 422, gettext(refused), None)
    log.error(
        "unhandled error",
        exc_info=(type(error), error, error.__traceback__),
        extra={"method": request.method, "path": request.url.path},
    )
    return _respond(request, HTTP_500_INTERNAL_SERVER_ERROR, gettext(STATUS_MESSAGES[500]), None)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error,
    HTTPException: http_error,
    Exception: internal_error,
}

__all__ = ["EXCEPTION_HANDLERS", "PRIVATE_PAGE_HEADERS"]
