"""Bounces: per-message return paths (VERP) and the delivery status notifications
(RFC 3464) that come back to them.

Every message leaves with the envelope sender `bounce+<outbox id>-<signature>@<bounce
domain>`; the signature is a keyed hash of the id, so a report is matched to exactly
one outbox row and nobody can forge one for a message they did not receive (and so
mark someone else's address as bouncing). A report with a 5.x.x status fails its
message and opens a `bounced` problem for the address; a 4.x.x one (delayed) is only
recorded. Anything else — junk, a report without a signed address, an auto-reply — is
ignored; nothing here raises on what a stranger sends.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parseaddr

from iportal import clock, db
from iportal.notifications.problems import record_problem

log = logging.getLogger(__name__)

SIGNATURE_LENGTH = 20  # hex digits: 80 bits, well beyond guessing over SMTP
RETURN_PATH = re.compile(r"^bounce\+(?P<id>[1-9][0-9]{0,18})-(?P<signature>[0-9a-f]+)@", re.I)
STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}$")
MAX_RECIPIENTS = 50  # per-recipient blocks read from one report

# A permanent failure fails the message, whatever it was (sent: the server took it
# and then gave up); the report is kept whatever it says.
FAIL_SQL = """
UPDATE outbox_email SET state = 'failed', last_error = $2 WHERE id = $1
RETURNING recipient
"""
RECIPIENT_SQL = "SELECT recipient FROM outbox_email WHERE id = $1"
REPORT_SQL = """
INSERT INTO delivery_report (outbox_email_id, action, status, final_recipient, diagnostic,
                             permanent, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
RECENT_SQL = """
SELECT r.outbox_email_id AS outbox_id, o.recipient, r.action, r.status,
       r.final_recipient, r.diagnostic, r.permanent, r.received_at
  FROM delivery_report r JOIN outbox_email o ON o.id = r.outbox_email_id
 ORDER BY r.received_at DESC, r.id DESC
 LIMIT $1
"""


def _signature(outbox_id: int, key: str) -> str:
    digest = hmac.new(key.encode(), f"bounce-{outbox_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:SIGNATURE_LENGTH]


def return_path(outbox_id: int, domain: str, key: str) -> str:
    """The envelope sender of one message: its bounces come back to it."""
    return f"bounce+{outbox_id}-{_signature(outbox_id, key)}@{domain}"


def outbox_id_of(address: str, key: str) -> int | None:
    """The outbox id a return path names, or None when it is not one of ours (a wrong
    or missing signature included)."""
    match = RETURN_PATH.match(address.strip().strip("<>"))
    if match is None:
        return None
    outbox_id = int(match["id"])
    if not hmac.compare_digest(match["signature"].lower(), _signature(outbox_id, key)):
        return None
    return outbox_id


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a delivery status notification."""

    action: str
    status: str
    final_recipient: str
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5.")


@dataclass(frozen=True)
class BounceReport:
    outbox_id: int
    recipient: str
    action: str
    status: str
    final_recipient: str
    diagnostic: str
    permanent: bool
    received_at: datetime


def _field(block: Message, name: str, limit: int = 254) -> str:
    value = block.get(name)
    text = " ".join(str(value).split()) if value is not None else ""
    # Printable only: a NUL or an escape sequence is not stored, nor shown to anyone.
    return "".join(c for c in text if c.isprintable())[:limit]


def _address(typed: str) -> str:
    """`rfc822; anna@example.be` → `anna@example.be`."""
    return parseaddr(typed.partition(";")[2] if ";" in typed else typed)[1].lower()[:254]


def _status_blocks(message: Message) -> list[Message]:
    if message.get_content_type() != "multipart/report":
        return []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            if not isinstance(blocks, list):
                return []
            # The first block holds the per-message fields, each next one a recipient.
            return [b for b in blocks[1 : MAX_RECIPIENTS + 1] if isinstance(b, Message)]
    return []


def parse_report(raw: bytes) -> list[RecipientStatus]:
    """The recipients' statuses of a delivery status notification; [] for anything
    else or anything broken."""
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
        found = []
        for block in _status_blocks(message):
            status = _field(block, "Status", 16).split(" ")[0]
            if not STATUS.match(status):
                continue
            found.append(
                RecipientStatus(
                    action=_field(block, "Action", 16).lower(),
                    status=status,
                    final_recipient=_address(_field(block, "Final-Recipient", 300)),
                    diagnostic=_field(block, "Diagnostic-Code", 1000),
                )
            )
        return found
    except Exception:  # a stranger's bytes: never a reason to fail
        log.info("unreadable delivery report ignored", exc_info=True)
        return []


async def record_report(
    outbox_id: int, statuses: list[RecipientStatus], *, now: datetime | None = None
) -> bool:
    """Keep the report of a (signed, so real) outbox row; a permanent status fails the
    message and marks its address. False when the row no longer exists."""
    now = now or clock.utcnow()
    async with db.transaction():
        recipient = await db.fetchval(RECIPIENT_SQL, outbox_id)
        if recipient is None:
            return False
        for status in statuses:
            await db.execute(
                REPORT_SQL,
                outbox_id,
                status.action,
                status.status,
                status.final_recipient,
                status.diagnostic,
                status.permanent,
                now,
            )
        permanent = next((s for s in statuses if s.permanent), None)
        if permanent is not None:
            detail = f"bounced: {permanent.status} {permanent.diagnostic}".strip()
            await db.execute(FAIL_SQL, outbox_id, detail[:2000])
            await record_problem(recipient, "bounced", detail, outbox_id=outbox_id, now=now)
    return True


async def receive_report(recipients: list[str], raw: bytes, key: str) -> int:
    """A message that came to the bounce listener: recorded for each of its envelope
    recipients that is a signed return path; returns how many rows it concerned."""
    ids = {i for i in (outbox_id_of(address, key) for address in recipients) if i is not None}
    if not ids:
        return 0
    statuses = parse_report(raw)
    if not statuses:
        log.info("a message to a return path is no delivery report", extra={"ids": sorted(ids)})
        return 0
    done = 0
    for outbox_id in sorted(ids):
        done += await record_report(outbox_id, statuses)
    return done


async def recent_reports(limit: int = 20) -> list[BounceReport]:
    return [BounceReport(**row) for row in await db.fetch(RECENT_SQL, limit)]
