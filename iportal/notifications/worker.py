"""The worker loop: send what the outbox holds, until told to stop; and, when
`IPORTAL_BOUNCE_LISTEN` is set, take the delivery reports of what it sent.

Idle, it looks again every `IDLE_SECONDS` (notices fall due with time), or at once
when the database tells it that document events or e-mails were added (NOTIFY
`iportal_worker`, sent by triggers at commit): a password reset link or a notice
waits for no poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from iportal import db
from iportal.notifications.listener import start_listener
from iportal.notifications.mailer import Mailer, SmtpMailer
from iportal.notifications.services import Attach, deliver_due
from iportal.settings import Settings

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0
WAKE_CHANNEL = "iportal_worker"
# Messages claimed (and sent over one connection) at a time.
BATCH = 100


# Work that queues e-mails (notices, digests, reset links, warnings), run once a round
# while what is already queued goes out; returns how much it did (a round that did
# something is followed at once by the next, which sends what it queued).
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
    wake = asyncio.Event()
    async with db.listening(WAKE_CHANNEL, wake.set):
        while not stop.is_set():
            wake.clear()  # what is added from here on wakes the next wait
            try:
                done, outcome = await _round(settings, mailer, jobs, attach)
            except OSError as error:  # the database went away: wait and try again
                log.warning("worker cannot reach the database: %s", error)
                done, outcome = 0, Counter()
            if any(outcome.values()) or done:
                log.info("outbox", extra=dict(outcome))
                continue
            await _idle(stop, wake)


async def _idle(stop: asyncio.Event, wake: asyncio.Event) -> None:
    """Until told to stop, woken, or `IDLE_SECONDS` have passed."""
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=IDLE_SECONDS, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def _round(
    settings: Settings, mailer: Mailer, jobs: Sequence[Job], attach: Attach | None
) -> tuple[int, Counter[str]]:
    """The jobs once (the next round of notices being rendered and queued), and
    meanwhile batches of what is already queued, until the jobs are done: the one
    waits for the database while the other waits for the mail server. Inside a
    caller's transaction (whose one connection runs one statement at a time) the jobs
    come first, then one batch."""
    if db.in_transaction():
        done = await _run_jobs(settings, jobs)
        return done, Counter(await _batch(settings, mailer, attach))
    queued = asyncio.create_task(_run_jobs(settings, jobs))
    outcome: Counter[str] = Counter()
    try:
        while True:
            batch = await _batch(settings, mailer, attach)
            outcome.update(batch)
            if queued.done() or not any(batch.values()):
                break
        return await queued, outcome
    finally:
        if not queued.done():
            queued.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await queued


async def _batch(settings: Settings, mailer: Mailer, attach: Attach | None) -> dict[str, int]:
    return await deliver_due(
        mailer,
        settings.mail_from,
        BATCH,
        key=settings.secret_key,
        bounce_domain=settings.return_path_domain,
        attach=attach,
    )


async def _run_jobs(settings: Settings, jobs: Sequence[Job]) -> int:
    return sum([await job(settings) for job in jobs])
