"""The one place errors become HTTP: JSON for `/api/`, an HTML page for people.

Domain errors carry their status and a message translated here; Litestar's own
HTTP errors (validation, unknown route, wrong method) keep their status; any
other exception is logged with its traceback and answered with a plain 500
that never shows it.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

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
    413: N_("The file is too large."),
    415: N_("This kind of file or request is not accepted here."),
    422: N_("Some of the information given is not valid."),
    429: N_("Too many attempts. Please try again later."),
    500: N_("Something went wrong on our side. Please try again in a moment."),
}


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


def http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[Any]:
    _ensure_language(request)
    status = error.status_code
    if status >= 500:
        return internal_error(request, error)
    detail = gettext(STATUS_MESSAGES.get(status, STATUS_MESSAGES[400]))
    if isinstance(error, ValidationException):
        specifics = _validation_detail(error)
        detail = f"{detail} {specifics}".strip() if specifics else detail
    elif status in (400, 413, 415, 422) and error.detail and _is_api(request):
        detail = f"{detail} ({error.detail})"
    return _respond(request, status, detail, dict(error.headers or {}))


def internal_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    _ensure_language(request)
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
