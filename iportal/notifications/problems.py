"""Delivery problems: e-mail to an address that does not arrive, shown to the person.

A problem belongs to an address (lower case), not to a message: the server refused it
(5xx, `refused`), a delivery status notification said it failed (5.x.x, `bounced`), or
five days of transient failures went by (`expired`). There is at most one open problem
per address; a new failure renews it. The person sees it on every page and in their
profile, their main contact on the list of shared users.

After a permanent problem (refused, bounced) nothing more is attempted to that address:
due messages are `held`, kept with the reason, until the person confirms the address
(or changes it: the problem stays with the old address). Confirming clears the problem
and queues again what was held and what failed in the last five days. An `expired`
problem holds nothing (the next message is tried as usual) and is cleared by the first
message that gets through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from iportal import clock, db

# As long as a message is retried (RFC 5321 asks for 4-5 days), and how far back
# confirming an address sends again what failed.
RETRY_FOR = timedelta(days=5)
PERMANENT_KINDS = ("refused", "bounced")

# A new failure renews the open problem of its address; a permanent kind is never
# downgraded to `expired` by a later timeout.
RECORD_SQL = """
INSERT INTO delivery_problem (email, kind, detail, outbox_email_id, first_at, last_at)
VALUES (lower($1), $2, $3, $4, $5, $5)
ON CONFLICT (email) WHERE cleared_at IS NULL DO UPDATE
   SET last_at = EXCLUDED.last_at, outbox_email_id = EXCLUDED.outbox_email_id,
       kind = CASE WHEN EXCLUDED.kind = 'expired' THEN delivery_problem.kind
                   ELSE EXCLUDED.kind END,
       detail = CASE WHEN EXCLUDED.kind = 'expired' AND delivery_problem.kind <> 'expired'
                     THEN delivery_problem.detail ELSE EXCLUDED.detail END
"""
OPEN_SQL = """
SELECT email, kind, detail, first_at, last_at FROM delivery_problem
 WHERE email = lower($1) AND cleared_at IS NULL
"""
CLEAR_SQL = """
UPDATE delivery_problem SET cleared_at = $2, cleared_by = $3
 WHERE email = lower($1) AND cleared_at IS NULL
RETURNING id
"""
# What was held for the address, and what failed to it since $3, due again now ($2).
REQUEUE_SQL = """
UPDATE outbox_email SET state = 'pending', attempts = 0, next_attempt_at = $2,
       last_error = ''
 WHERE lower(recipient) = lower($1)
   AND (state = 'held' OR (state = 'failed' AND created_at >= $3))
RETURNING id
"""
# Problems recorded lately, for `iportal outbox`.
RECENT_SQL = """
SELECT email, kind, detail, first_at, last_at FROM delivery_problem
 WHERE cleared_at IS NULL ORDER BY last_at DESC LIMIT $1
"""


@dataclass(frozen=True)
class DeliveryProblem:
    """An open problem of one address: what happened (`kind`), since when, and the
    server's words (`detail`, for the operator and the curious)."""

    email: str
    kind: str
    detail: str
    first_at: datetime
    last_at: datetime

    @property
    def permanent(self) -> bool:
        return self.kind in PERMANENT_KINDS


async def record_problem(
    email: str, kind: str, detail: str, *, outbox_id: int | None, now: datetime
) -> None:
    await db.execute(RECORD_SQL, email, kind, detail[:2000], outbox_id, now)


async def delivery_problem(email: str) -> DeliveryProblem | None:
    """The open problem of this address, if any."""
    row = await db.fetchrow(OPEN_SQL, email)
    return DeliveryProblem(**row) if row else None


async def recent_problems(limit: int = 20) -> list[DeliveryProblem]:
    return [DeliveryProblem(**row) for row in await db.fetch(RECENT_SQL, limit)]


async def confirm_address(email: str, *, now: datetime | None = None) -> int:
    """The person says the address is right: the problem is cleared and what was held
    or failed in the last five days is queued again. Returns how many messages."""
    now = now or clock.utcnow()
    async with db.transaction():
        await db.execute(CLEAR_SQL, email, now, "confirmed")
        return len(await db.fetch(REQUEUE_SQL, email, now, now - RETRY_FOR))
