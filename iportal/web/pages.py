"""Rendering a page for a person: the shared context every template expects."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from iportal.errors import DomainError, TooManyAttempts
from iportal.i18n import current_language
from iportal.web.context import csrf_token, current_user, set_csrf_cookie

# Pages show a person's own data: never stored by a shared cache, nor kept by the browser.
PRIVATE_PAGE_HEADERS = {"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language"}


def page(
    request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any
) -> Template:
    context.update(
        user=current_user(request),
        csrf_token=csrf_token(request),
        language=current_language.get(),
        path=request.url.path,
        demo_mode=request.app.state.settings.demo_mode,
    )
    response = Template(
        template_name=template,
        context=context,
        status_code=status_code,
        headers=PRIVATE_PAGE_HEADERS,
        media_type="text/html",
    )
    set_csrf_cookie(request, response)
    return response


def refused_page(
    request: Request[Any, Any, Any], template: str, error: DomainError, **context: Any
) -> Template:
    """The same page again with the reason, under the error's status (and `Retry-After`
    when throttled)."""
    response = page(
        request, template, status_code=error.status_code, error=error.translated(), **context
    )
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response
