"""The bounce listener: an SMTP server (aiosmtpd) in `iportal worker` to which the mail
server hands the delivery status notifications of our return paths.

It runs on the worker's own event loop, so reports are written through the same
connection pool. It takes any recipient (an address that is not a signed return path
is accepted and ignored: a listener that refused them would tell a prober which ones
are real), messages up to `MAX_REPORT_BYTES`, and answers 250 to junk so that nobody
retries it; only a database that is away makes it answer 451, so that the mail server
tries again later and no report is lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP

from iportal import db
from iportal.notifications.bounces import receive_report
from iportal.settings import Settings

log = logging.getLogger(__name__)

# A report quotes at most the original message, and ours are small.
MAX_REPORT_BYTES = 1024 * 1024
MAX_RECIPIENTS = 100
IDLE_TIMEOUT_SECONDS = 60


class ListenerUnavailable(RuntimeError):
    """The address of `IPORTAL_BOUNCE_LISTEN` cannot be listened on (taken, not ours)."""


class BounceHandler:
    """aiosmtpd's handler: one report per message, matched by its recipients."""

    def __init__(self, key: str) -> None:
        self.key = key

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        try:
            matched = await receive_report(list(envelope.rcpt_tos), bytes(raw or b""), self.key)
        except Exception as error:
            if db.is_unreachable(error) or isinstance(error, OSError):
                log.warning("bounce listener cannot reach the database: %s", error)
                return "451 4.3.0 Try again later"
            log.exception("delivery report not recorded")
            return "250 OK"
        if matched:
            log.info("delivery report recorded", extra={"rows": matched})
        return "250 OK"


async def start_listener(settings: Settings) -> asyncio.Server | None:
    """Listen on `IPORTAL_BOUNCE_LISTEN` when it is set; None when it is not."""
    if settings.bounce_listen is None:
        return None
    host, port = settings.bounce_listen
    handler = BounceHandler(settings.secret_key)
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: SMTP(
                handler,
                data_size_limit=MAX_REPORT_BYTES,
                hostname=settings.return_path_domain,
                ident="iportal bounce listener",
                timeout=IDLE_TIMEOUT_SECONDS,
            ),
            host=host,
            port=port,
        )
    except OSError as error:
        raise ListenerUnavailable(
            f"IPORTAL_BOUNCE_LISTEN: cannot listen on {host}:{port} ({error.strerror or error})"
        ) from None
    log.info("bounce listener started", extra={"listen": f"{host}:{port}"})
    return server
