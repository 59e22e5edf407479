"""The demo's mailbox page: what the local mail catcher received (demo mode only)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from typing import Annotated, Any

from litestar import Request, Router, get
from litestar.params import QueryParameter
from litestar.response import Template

from iportal.errors import NotFound
from iportal.web.context import settings_of
from iportal.web.pages import page


def _read(path: Any) -> dict[str, Any]:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(preferencelist=("plain", "html"))
    return {
        "id": path.stem,
        "to": message["To"],
        "subject": message["Subject"],
        "date": message["Date"] or "",
        "body": body.get_content() if body else "",
    }


@get("/dev/mail", name="demo.mailbox", include_in_schema=False)
async def mailbox(
    request: Request[Any, Any, Any],
    message_id: Annotated[str | None, QueryParameter(name="id")] = None,
) -> Template:
    folder = settings_of(request).mail_dir
    paths = sorted(folder.glob("*.eml"), reverse=True) if folder.exists() else []
    messages = [_read(path) for path in paths[:200]]
    chosen = next((m for m in messages if m["id"] == message_id), None) if message_id else None
    if message_id and chosen is None:
        raise NotFound()
    return page(request, "demo/mail.html", messages=messages, chosen=chosen)


router = Router(path="/", route_handlers=[mailbox])
