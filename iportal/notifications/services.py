"""The e-mail outbox: queue a message with the change that causes it, send it later.

`queue_email` renders a template trio (`subject.txt`, `body.txt`, `body.html`)
in the recipient's language and inserts one row, inside the caller's
transaction. `deliver_due` claims due rows with `FOR UPDATE SKIP LOCKED`, so
several workers never send the same message, and retries transient failures
(the server away, a timeout, 4xx) with a growing delay for five days after the
message was queued (RFC 5321, 4.5.4.1); a worker that dies mid-send leaves a lease
that expires. A permanent failure (5xx), or five days of transient ones, fails the
message and opens a delivery problem for its address (`problems.py`); while an
address has a permanent problem its messages are held, not attempted. Each message
leaves with its own signed return path, so that a later bounce finds it
(`bounces.py`). A claimed batch goes over one SMTP connection, notices written
straight to bytes (`encoding.py`), each result recorded while the next envelope goes
out and before the next message does (`settlement.py`): a worker killed mid-batch
sends at most one message twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from iportal import clock, db
from iportal.i18n import using_language
from iportal.notifications.bounces import return_path
from iportal.notifications.encoding import encode_message
from iportal.notifications.encoding import message_id as message_id
from iportal.notifications.mailer import DeliveryFailed, Mailer

# What other domains use of delivery problems, through this front door.
from iportal.notifications.problems import DeliveryProblem as DeliveryProblem
from iportal.notifications.problems import confirm_address as confirm_address
from iportal.notifications.problems import delivery_problem as delivery_problem
from iportal.notifications.settlement import RETRY_MINUTES as RETRY_MINUTES
from iportal.notifications.settlement import NotRecorded, Settlement, decide, held
from iportal.notifications.settlement import retry_delay as retry_delay
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

LEASE = timedelta(minutes=5)


# A due message is claimed by pushing its next attempt past the lease: a worker that
# dies mid-send leaves it to be claimed again when the lease runs out. The claimed
# rows come back in the order they were due (an UPDATE's RETURNING has none of its
# own), so a message the dead worker had in flight is the first to go again.
CLAIM_DUE_SQL = """
WITH due AS (
  SELECT id, next_attempt_at AS was_due
    FROM outbox_email
   WHERE state = 'pending' AND next_attempt_at <= $2
   ORDER BY next_attempt_at, id
   LIMIT $3 FOR UPDATE SKIP LOCKED),
claimed AS (
  UPDATE outbox_email o SET attempts = attempts + 1, next_attempt_at = $1
    FROM due WHERE o.id = due.id
  RETURNING o.id, o.recipient, o.language, o.subject, o.body_text, o.body_html,
            o.list_unsubscribe, o.attempts, o.created_at, o.document_id, due.was_due)
SELECT id, recipient, language, subject, body_text, body_html, list_unsubscribe, attempts,
       created_at, document_id,
       EXISTS (SELECT 1 FROM delivery_problem p
                WHERE p.email = lower(recipient) AND p.cleared_at IS NULL
                  AND p.kind IN ('refused', 'bounced')) AS held
  FROM claimed
 ORDER BY was_due, id
"""
OVERVIEW_SQL = """
SELECT id, recipient, template, state, attempts, created_at, next_attempt_at, sent_at,
       last_error
  FROM outbox_email
 ORDER BY state = 'sent', created_at DESC
 LIMIT $1
"""
# Many e-mails in one statement (a round of notices), due at once.
QUEUE_MANY_SQL = """
INSERT INTO outbox_email (recipient, user_id, client_number_id, language, template, subject,
                          body_text, body_html, list_unsubscribe, state, attempts, last_error,
                          next_attempt_at, created_at)
SELECT recipient, user_id, client_number_id, language, template, subject, body_text, body_html,
       list_unsubscribe, 'pending', 0, '', $10, $10
  FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[],
              $8::text[], $9::text[])
       AS e(recipient, user_id, client_number_id, language, template, subject, body_text,
            body_html, list_unsubscribe)
RETURNING id
"""
RETRY_FAILED_SQL = """
UPDATE outbox_email SET state = 'pending', attempts = 0, next_attempt_at = $1
 WHERE id = $2 AND state IN ('failed', 'held')
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
    created_at: datetime
    # Set for a forwarded document, whose files are attached when it is sent.
    document_id: int | None = None
    # Its address has a permanent delivery problem: not to be attempted.
    held: bool = False


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


@dataclass(frozen=True)
class EmailToQueue:
    """One e-mail for `queue_emails`: its template trio, for whom, in which language."""

    template: str
    recipient: str
    language: str
    context: Mapping[str, object]
    user_id: int | None = None
    client_number_id: int | None = None
    list_unsubscribe: str = ""


async def queue_emails(emails: Sequence[EmailToQueue]) -> list[int]:
    """Render and queue many e-mails with one statement (a round of notices), inside
    the caller's transaction; returns their outbox ids."""
    if not emails:
        return []
    rendered = []
    for email in emails:
        rendered.append(render_email(email.template, email.language, email.context))
        # A worker renders the next round while it sends: let the mail server's and the
        # database's answers in between the e-mails, rather than after the whole round.
        await asyncio.sleep(0)
    rows = await db.fetch(
        QUEUE_MANY_SQL,
        [e.recipient for e in emails],
        [e.user_id for e in emails],
        [e.client_number_id for e in emails],
        [e.language for e in emails],
        [e.template for e in emails],
        [r.subject for r in rendered],
        [r.body_text for r in rendered],
        [r.body_html for r in rendered],
        [e.list_unsubscribe for e in emails],
        clock.utcnow(),
    )
    return [int(row["id"]) for row in rows]


async def claim_due(limit: int = 50) -> list[OutboxMessage]:
    """Due messages, claimed for this worker until the lease runs out."""
    now = clock.utcnow()
    rows = await db.fetch(CLAIM_DUE_SQL, now + LEASE, now, limit)
    return [OutboxMessage(**row) for row in rows]


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


async def deliver_due(
    mailer: Mailer,
    sender: str,
    limit: int = 50,
    *,
    key: str = "",
    bounce_domain: str = "",
    attach: Attach | None = None,
) -> dict[str, int]:
    """Send what is due now; returns how many were sent, failed, postponed or held.
    `key` (the installation's secret) keys the `Message-ID`s and signs the return
    paths, which are `bounce+…@bounce_domain` (the sender's domain when empty);
    `attach` adds the files of a forwarded document (a worker without it leaves
    forwards to be tried again)."""
    domain = bounce_domain or parseaddr(sender)[1].rpartition("@")[2] or "iportal"
    date = format_datetime(clock.utcnow())
    settlement = Settlement()
    try:
        for row in await claim_due(limit):
            if row.held:
                settlement.add(held(row, clock.utcnow()))
                continue
            error: DeliveryFailed | None = None
            try:
                envelope_sender = return_path(row.id, domain, key)
                await _send(mailer, row, sender, key, envelope_sender, date, attach, settlement)
            except DeliveryFailed as failure:
                error = failure
                log.warning("e-mail %s to %s not sent: %s", row.id, row.recipient, failure)
            settlement.add(decide(row, error, clock.utcnow()))
    except NotRecorded:
        pass  # `finish` raises the database's error
    finally:
        await mailer.close()  # the batch went over one connection
        await settlement.finish()
    return {kind: settlement.outcome[kind] for kind in ("sent", "failed", "retry", "held")}


async def _send(
    mailer: Mailer,
    row: OutboxMessage,
    sender: str,
    key: str,
    envelope_sender: str,
    date: str,
    attach: Attach | None,
    settlement: Settlement,
) -> None:
    """A notice goes out as bytes written directly; a forward (with its files), or a
    message whose headers need it, through the `email` package."""
    if row.document_id is None:
        encoded = encode_message(
            message_id=message_id(row.id, sender, key),
            sender=sender,
            recipient=row.recipient,
            subject=row.subject,
            language=row.language,
            date=date,
            body_text=row.body_text,
            body_html=row.body_html,
            list_unsubscribe=row.list_unsubscribe,
        )
        if encoded is not None:
            await mailer.send(
                encoded,
                sender=envelope_sender,
                recipients=[row.recipient],
                ready=settlement.settled,
            )
            return
    message = build_message(row, sender, key)
    if row.document_id is not None:
        if attach is None:
            raise DeliveryFailed(NO_ATTACHER, permanent=False)
        await attach(message, row)
    await mailer.send(message, sender=envelope_sender, ready=settlement.settled)


async def outbox_overview(limit: int = 50) -> list[OutboxEntry]:
    """Pending and failed e-mails first, then the most recent ones sent."""
    return [OutboxEntry(**row) for row in await db.fetch(OVERVIEW_SQL, limit)]


async def retry_failed(outbox_id: int) -> bool:
    """Put a failed e-mail back in the queue, due now; False when there is no such one."""
    return await db.fetchval(RETRY_FAILED_SQL, clock.utcnow(), outbox_id) is not None
