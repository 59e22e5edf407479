"""The one-click unsubscribe address of notices (RFC 8058), open without a login.

`GET /unsubscribe/{token}` only shows what the link would switch off and a button: mail
scanners and link previews fetch links, and must change nothing. `POST` (the button,
or the mail provider's one-click request with `List-Unsubscribe=One-Click`) switches
off the named person's notices for the named numbers. The signed token is the only
authority: no session, no cookie, so no CSRF token either (see `web.context`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath
from litestar.response import Template

from iportal.notifications import services
from iportal.web.context import settings_of
from iportal.web.pages import page


@get("/unsubscribe/{token:str}", name="notifications.unsubscribe_page", include_in_schema=False)
async def unsubscribe_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    codes = await services.unsubscribe_codes(settings_of(request), token)
    return page(request, "notifications/unsubscribe.html", token=token, codes=codes, done=False)


@post(
    "/unsubscribe/{token:str}",
    name="notifications.unsubscribe",
    include_in_schema=False,
    status_code=200,
)
async def unsubscribe(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    codes = await services.unsubscribe(settings_of(request), token)
    return page(request, "notifications/unsubscribe.html", token=token, codes=codes, done=True)


router = Router(path="/", route_handlers=[unsubscribe_page, unsubscribe])
