"""Recording what became of the messages a worker sent, many in one statement.

Each result is decided when it is known (sent, to be retried, failed, held) and
recorded, with any others that arrived meanwhile, in one statement (`UPDATE … FROM
unnest(…)`) that runs while the worker goes on with the next message's envelope.
The next message itself is handed over only once that statement has committed
(`settled`, the mailer's `ready`): a worker killed at any moment leaves at most one
message the server has taken unrecorded, and it comes again under the same
Message-ID when the lease runs out. Inside a caller's transaction, whose connection
cannot run two statements at once, everything is recorded at the end instead.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from iportal import clock, db
from iportal.notifications.mailer import DeliveryFailed
from iportal.notifications.problems import RETRY_FOR, record_problem

if TYPE_CHECKING:
    from iportal.notifications.services import OutboxMessage

# Minutes between the first attempts; hourly after them, until `RETRY_FOR` is over.
RETRY_MINUTES = (1, 5, 15, 30, 60)
HELD = "held: the address has a delivery problem"

# A held message gives its attempt back; a sent one clears the `expired` problem of
# its address, which evidently takes mail again. The commit does not wait for the disk
# (`synchronous_commit` off for this transaction alone, set by the statement itself:
# one round trip instead of four): see `record`.
SETTLE_SQL = """
WITH unflushed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS off),
settled AS (
  UPDATE outbox_email o
     SET state = r.state, last_error = r.last_error,
         sent_at = CASE WHEN r.state = 'sent' THEN $6 ELSE o.sent_at END,
         next_attempt_at = coalesce(r.next_attempt_at, o.next_attempt_at),
         attempts = o.attempts - r.attempts_back
    FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::int[])
         AS r(id, state, next_attempt_at, last_error, attempts_back), unflushed
   WHERE o.id = r.id
  RETURNING o.recipient, o.state)
UPDATE delivery_problem SET cleared_at = $6, cleared_by = 'delivered'
 WHERE email IN (SELECT lower(recipient) FROM settled WHERE state = 'sent')
   AND cleared_at IS NULL AND kind = 'expired'
"""


def retry_delay(attempts: int) -> timedelta:
    """1, 5, 15, 30 and 60 minutes after the first attempts, then every hour."""
    return timedelta(minutes=RETRY_MINUTES[min(max(attempts, 1), len(RETRY_MINUTES)) - 1])


class NotRecorded(RuntimeError):
    """The results could not be recorded: stop sending (`finish` raises the cause)."""


@dataclass(frozen=True)
class Result:
    """What becomes of one message: its next state, and for a failure the problem its
    address now has (`refused` or `expired`)."""

    id: int
    recipient: str
    state: str  # pending (to be retried), sent, failed or held
    error: str = ""
    next_attempt_at: datetime | None = None
    problem: str = ""

    @property
    def outcome(self) -> str:
        return "retry" if self.state == "pending" else self.state


def decide(row: OutboxMessage, error: DeliveryFailed | None, now: datetime) -> Result:
    if error is None:
        return Result(row.id, row.recipient, "sent")
    reason = str(error)[:2000]
    given_up = row.created_at + RETRY_FOR
    if error.permanent or now >= given_up:
        kind = "refused" if error.permanent else "expired"
        return Result(row.id, row.recipient, "failed", reason, problem=kind)
    # The last attempt falls on the fifth day itself, not an hour past it.
    next_at = min(now + retry_delay(row.attempts), given_up)
    return Result(row.id, row.recipient, "pending", reason, next_at)


def held(row: OutboxMessage, now: datetime) -> Result:
    """Not attempted: the address refused or bounced an earlier message. Kept, with
    the reason, until the person confirms the address."""
    return Result(row.id, row.recipient, "held", HELD, now)


async def record(results: list[Result], now: datetime) -> None:
    """One statement for the results; its commit does not wait for the disk (a few
    milliseconds each, more than sending a message): should PostgreSQL itself crash
    before the log is written, the messages are sent again, never lost."""
    columns = (
        [r.id for r in results],
        [r.state for r in results],
        [r.next_attempt_at for r in results],
        [r.error for r in results],
        [1 if r.state == "held" else 0 for r in results],
    )
    failed = [r for r in results if r.problem]
    if not failed:
        await db.execute(SETTLE_SQL, *columns, now)
        return
    async with db.transaction():
        await db.execute(SETTLE_SQL, *columns, now)
        for result in failed:
            await record_problem(
                result.recipient, result.problem, result.error, outbox_id=result.id, now=now
            )


class Settlement:
    """Results recorded as they come, each statement taking all that waited; `settled`
    waits for them."""

    def __init__(self) -> None:
        self.outcome: Counter[str] = Counter()
        self._waiting: list[Result] = []
        self._task: asyncio.Task[None] | None = None
        self._at_the_end = db.in_transaction()

    def add(self, result: Result) -> None:
        self.outcome[result.outcome] += 1
        self._waiting.append(result)
        if self._at_the_end:
            return
        if self._task is not None and self._task.done():
            self._task.result()  # the database failed: stop sending
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._record_waiting())

    async def _record_waiting(self) -> None:
        while self._waiting:
            results, self._waiting = self._waiting, []
            await record(results, clock.utcnow())

    async def settled(self) -> None:
        """Every result added so far is recorded; within a caller's transaction they
        wait for `finish`. A failed statement raises `NotRecorded`, not the database's
        own error, which the mailer would take for the mail server's (`OSError`)."""
        if self._task is None or self._at_the_end:
            return
        try:
            await self._task
        except Exception as error:
            raise NotRecorded from error

    async def finish(self) -> None:
        """Everything recorded (or the database's error raised)."""
        if self._task is not None:
            await self._task
        await self._record_waiting()
