"""The worker loop: send what the outbox holds, until told to stop; and, when
`IPORTAL_BOUNCE_LISTEN` is set, take the delivery reports of what it sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from iportal.notifications.listener import start_listener
from iportal.notifications.mailer import Mailer, SmtpMailer
from iportal.notifications.services import Attach, deliver_due
from iportal.settings import Settings

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0
# Messages claimed (and sent over one connection) at a time.
BATCH = 100


# Work of other domains that queues e-mails (reset links), run before each delivery
# so that what it queues goes out in the same round; returns how much it did.
Job = Callable[[Settings], Awaitable[int]]


async def run_worker(
    settings: Settings,
    stop: asyncio.Event,
    mailer: Mailer | None = None,
    jobs: Sequence[Job] = (),
    attach: Attach | None = None,
) -> None:
    mailer = mailer or SmtpMailer(settings)
    log.info("worker started", extra={"smtp": f"{settings.smtp_host}:{settings.smtp_port}"})
    listener = await start_listener(settings)
    try:
        await _deliver_until(settings, stop, mailer, jobs, attach)
    finally:
        if listener is not None:
            listener.close()
            await listener.wait_closed()
    log.info("worker stopped")


async def _deliver_until(
    settings: Settings,
    stop: asyncio.Event,
    mailer: Mailer,
    jobs: Sequence[Job],
    attach: Attach | None,
) -> None:
    while not stop.is_set():
        try:
            done = [await job(settings) for job in jobs]
            outcome = await deliver_due(
                mailer,
                settings.mail_from,
                BATCH,
                key=settings.secret_key,
                bounce_domain=settings.return_path_domain,
                attach=attach,
            )
        except OSError as error:  # the database went away: wait and try again
            log.warning("worker cannot reach the database: %s", error)
            done, outcome = [], {}
        if any(outcome.values()) or any(done):
            log.info("outbox", extra=outcome)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), IDLE_SECONDS)
