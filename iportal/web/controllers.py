"""Pages that belong to no domain: home, language switch, health check; and the
static files, under their fingerprinted names."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from iportal.columns import LANGUAGES
from iportal.db import database_is_reachable
from iportal.errors import NotFound
from iportal.web.assets import IMMUTABLE, STATIC_PATH, assets
from iportal.web.context import LANGUAGE_COOKIE, cookie, current_user, settings_of
from iportal.web.pages import page
from iportal.web.redirects import safe_next


@get("/", name="web.home", include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Template | Redirect:
    """People who are logged in land on their documents."""
    if current_user(request) is not None:
        return Redirect(path="/documents", status_code=303)
    return page(request, "home.html", client_numbers=[], counts={})


@get("/language/{code:str}", name="web.language", include_in_schema=False)
async def switch_language(
    request: Request[Any, Any, Any],
    code: FromPath[str],
    next_path: Annotated[str, QueryParameter(name="next")] = "/",
) -> Redirect:
    if code not in LANGUAGES:
        raise NotFound()
    response = Redirect(path=safe_next(next_path), status_code=303)
    response.set_cookie(cookie(settings_of(request), LANGUAGE_COOKIE, code, max_age=365 * 86400))
    return response


async def _no_session(_: Request[Any, Any, Any]) -> None:
    """A probe's cookie is not looked up: the answer depends on the database alone."""


@get("/healthz", name="web.health", tags=["health"], cache=False, before_request=_no_session)
async def health() -> Response[dict[str, str]]:
    """200 when the database answers, 503 otherwise (JSON both, whatever the cookies)."""
    if await database_is_reachable():
        return Response({"status": "ok"}, status_code=HTTP_200_OK)
    return Response({"status": "database unreachable"}, status_code=HTTP_503_SERVICE_UNAVAILABLE)


@get(
    f"{STATIC_PATH}/{{name:str}}",
    name="web.static",
    include_in_schema=False,
    before_request=_no_session,
)
async def static_file(name: FromPath[str]) -> Response[bytes]:
    """A CSS or script file by its fingerprinted name, kept by any cache for a year;
    a name without the current fingerprint (a stale page's, or a guess) is a 404."""
    asset = assets().get(name)
    if asset is None:
        raise NotFound()
    return Response(asset.body, media_type=asset.media_type, headers={"Cache-Control": IMMUTABLE})


router = Router(path="/", route_handlers=[home, switch_language, health, static_file])
