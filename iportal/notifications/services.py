"""The e-mail outbox: queue a message with the change that causes it, send it later.

`queue_email` renders a template trio (`subject.txt`, `body.txt`, `body.html`)
in the recipient's language and inserts one row, inside the caller's
transaction. `deliver_due` claims due rows with `FOR UPDATE SKIP LOCKED`, so
several workers never send the same message, and retries transient failures
with a growing delay; a worker that dies mid-send leaves a lease that expires.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from iportal import clock, db
from iportal.i18n import using_language
from iportal.notifications.mailer import DeliveryFailed, Mailer
from iportal.notifications.switches import NoticeSwitch as NoticeSwitch
from iportal.notifications.switches import notice_switches as notice_switches
from iportal.notifications.switches import set_notice_switches as set_notice_switches
from iportal.notifications.switches import switch_notices as switch_notices
from iportal.notifications.switches import switched_off as switched_off
from iportal.notifications.switches import unsubscribe as unsubscribe
from iportal.notifications.switches import unsubscribe_codes as unsubscribe_codes
from iportal.notifications.switches import unsubscribe_url as unsubscribe_url
from iportal.notifications.tables import OutboxEmail
from iportal.templating import environment

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)


# A due message is claimed by pushing its next attempt past the lease: a worker that
# dies mid-send leaves it to be claimed again when the lease runs out.
CLAIM_DUE_SQL = """
UPDATE outbox_email SET attempts = attempts + 1, next_attempt_at = $1
 WHERE id IN (SELECT id FROM outbox_email
               WHERE state = 'pending' AND next_attempt_at <= $2
               ORDER BY next_attempt_at, id
               LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING id, recipient, language, subject, body_text, body_html, list_unsubscribe, attempts,
          document_id
"""
OVERVIEW_SQL = """
SELECT id, recipient, template, state, attempts, created_at, next_attempt_at, sent_at,
       last_error
  FROM outbox_email
 ORDER BY state = 'sent', created_at DESC
 LIMIT $1
"""
RETRY_FAILED_SQL = """
UPDATE outbox_email SET state = 'pending', attempts = 0, next_attempt_at = $1
 WHERE id = $2 AND state = 'failed'
RETURNING id
"""


@dataclass(frozen=True)
class OutboxMessage:
    """A message claimed for sending."""

    id: int
    recipient: str
    language: str
    subject: str
    body_text: str
    body_html: str
    list_unsubscribe: str
    attempts: int
    # Set for a forwarded document, whose files are attached when it is sent.
    document_id: int | None = None


# Adds a forwarded document's files to its message, or raises `DeliveryFailed`.
Attach = Callable[[EmailMessage, OutboxMessage], Awaitable[None]]
NO_ATTACHER = "this worker cannot attach documents"


@dataclass(frozen=True)
class OutboxEntry:
    """One line of the outbox as `iportal outbox` shows it."""

    id: int
    recipient: str
    template: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body_text: str
    body_html: str


def render_email(template: str, language: str, context: Mapping[str, object]) -> RenderedEmail:
    env = environment()
    folder = f"notifications/email/{template}" if "/" not in template else template
    with using_language(language):
        subject = env.get_template(f"{folder}/subject.txt").render(context).strip()
        body_text = env.get_template(f"{folder}/body.txt").render(context)
        body_html = env.get_template(f"{folder}/body.html").render(context)
    return RenderedEmail(" ".join(subject.split()), body_text, body_html)


async def queue_email(
    template: str,
    recipient: str,
    language: str,
    context: Mapping[str, object],
    *,
    user_id: int | None = None,
    client_number_id: int | None = None,
    list_unsubscribe: str = "",
) -> int:
    """Render and queue one e-mail; returns its outbox id. `list_unsubscribe` is the
    one-click address of a notice (sent as `List-Unsubscribe`)."""
    rendered = render_email(template, language, context)
    rows = await OutboxEmail.insert(
        OutboxEmail(
            recipient=recipient,
            user=user_id,
            client_number=client_number_id,
            language=language,
            template=template,
            subject=rendered.subject,
            body_text=rendered.body_text,
            body_html=rendered.body_html,
            list_unsubscribe=list_unsubscribe,
        )
    ).returning(OutboxEmail.id)
    return int(rows[0]["id"])


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, capped at six hours."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


async def claim_due(limit: int = 50) -> list[OutboxMessage]:
    """Due messages, claimed for this worker until the lease runs out."""
    now = clock.utcnow()
    rows = await db.fetch(CLAIM_DUE_SQL, now + LEASE, now, limit)
    return [OutboxMessage(**row) for row in rows]


def message_id(outbox_id: int, sender: str, key: str = "") -> str:
    """The same for every attempt at one outbox row, so that a message sent twice (a
    worker killed after the server took it) is recognised as one; the keyed hash keeps
    ids of other installations (and guessed ones) apart."""
    digest = hmac.new(key.encode(), f"outbox-{outbox_id}".encode(), hashlib.sha256)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "iportal"
    return f"<outbox-{outbox_id}.{digest.hexdigest()[:16]}@{domain}>"


def build_message(row: OutboxMessage, sender: str, key: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = message_id(row.id, sender, key)
    message["Date"] = format_datetime(clock.utcnow())
    # Tells auto-responders (out of office) not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    if row.list_unsubscribe:
        # One-click unsubscribe (RFC 8058): the mail provider POSTs to the address.
        message["List-Unsubscribe"] = f"<{row.list_unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    message["Content-Language"] = row.language  # after set_content, which drops Content-*
    return message


async def _settle(row: OutboxMessage, error: DeliveryFailed | None) -> str:
    now = clock.utcnow()
    if error is None:
        await OutboxEmail.update(
            {OutboxEmail.state: "sent", OutboxEmail.sent_at: now, OutboxEmail.last_error: ""}
        ).where(OutboxEmail.id == row.id)
        return "sent"
    if error.permanent or row.attempts >= MAX_ATTEMPTS:
        await OutboxEmail.update(
            {OutboxEmail.state: "failed", OutboxEmail.last_error: str(error)[:2000]}
        ).where(OutboxEmail.id == row.id)
        return "failed"
    await OutboxEmail.update(
        {
            OutboxEmail.next_attempt_at: now + retry_delay(row.attempts),
            OutboxEmail.last_error: str(error)[:2000],
        }
    ).where(OutboxEmail.id == row.id)
    return "retry"


async def deliver_due(
    mailer: Mailer, sender: str, limit: int = 50, *, key: str = "", attach: Attach | None = None
) -> dict[str, int]:
    """Send what is due now; returns how many were sent, failed or postponed. `key`
    (the installation's secret) keys the `Message-ID`s; `attach` adds the files of a
    forwarded document (a worker without it leaves forwards to be tried again)."""
    outcome = {"sent": 0, "failed": 0, "retry": 0}
    for row in await claim_due(limit):
        error: DeliveryFailed | None = None
        try:
            message = build_message(row, sender, key)
            if row.document_id is not None:
                if attach is None:
                    raise DeliveryFailed(NO_ATTACHER, permanent=False)
                await attach(message, row)
            await mailer.send(message)
        except DeliveryFailed as failure:
            error = failure
            log.warning("e-mail %s to %s not sent: %s", row.id, row.recipient, failure)
        outcome[await _settle(row, error)] += 1
    return outcome


async def outbox_overview(limit: int = 50) -> list[OutboxEntry]:
    """Pending and failed e-mails first, then the most recent ones sent."""
    return [OutboxEntry(**row) for row in await db.fetch(OVERVIEW_SQL, limit)]


async def retry_failed(outbox_id: int) -> bool:
    """Put a failed e-mail back in the queue, due now; False when there is no such one."""
    return await db.fetchval(RETRY_FAILED_SQL, clock.utcnow(), outbox_id) is not None
