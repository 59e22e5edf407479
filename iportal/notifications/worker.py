"""The worker loop: send what the outbox holds, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from iportal.notifications.mailer import Mailer, SmtpMailer
from iportal.notifications.services import deliver_due
from iportal.settings import Settings

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0


async def run_worker(settings: Settings, stop: asyncio.Event, mailer: Mailer | None = None) -> None:
    mailer = mailer or SmtpMailer(settings)
    log.info("worker started", extra={"smtp": f"{settings.smtp_host}:{settings.smtp_port}"})
    while not stop.is_set():
        try:
            outcome = await deliver_due(mailer, settings.mail_from)
        except OSError as error:  # the database went away: wait and try again
            log.warning("worker cannot reach the database: %s", error)
            outcome = {}
        if any(outcome.values()):
            log.info("outbox", extra=outcome)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
    log.info("worker stopped")
