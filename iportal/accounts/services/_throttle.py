"""Throttling guesses (logins, TOTP codes, activation codes, resets), counted in
PostgreSQL so that every web process shares the count.

Kept over a limiter library (they count in process memory or Redis): here the count
is two statements in the PostgreSQL every process already shares, taken before the check.

An attempt is counted *before* it is checked: each request inserts its rows and
then counts (two statements on one connection, whatever the number of buckets), so
concurrent requests cannot all slip under the limit. A success withdraws its own
rows, so only failures count against a bucket.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from iportal import clock, db
from iportal.accounts.tables import ThrottleAttempt
from iportal.errors import TooManyAttempts
from iportal.i18n import N_

LIMIT = 10
WINDOW = timedelta(minutes=15)
TRY_LATER = N_("Too many attempts. Please try again in %(minutes)s minutes.")


@dataclass(frozen=True)
class Attempt:
    ids: tuple[int, ...]


def bucket(kind: str, scope: str, key: object) -> str:
    """`bucket("login", "ip", "192.0.2.1")` → `login:ip:192.0.2.1`."""
    return f"{kind}:{scope}:{key}"[:200]


_RECORD = "INSERT INTO throttle_attempt (bucket, at) SELECT unnest($1::text[]), $2 RETURNING id"
# The fullest bucket of an attempt; a statement of its own, after the insert has
# committed, so that it sees every other request's rows too. Of two as full, the first
# by name: `login:account:…` before `login:ip:…`, so a refusal names the account.
_FULLEST = (
    "SELECT bucket, count(*) AS n, min(at) AS first FROM throttle_attempt "
    "WHERE bucket = ANY($1::text[]) AND at > $2 GROUP BY bucket "
    "ORDER BY count(*) DESC, bucket LIMIT 1"
)


@dataclass(frozen=True)
class Full:
    """A bucket over its limit, and the seconds until its oldest attempt leaves the window."""

    bucket: str
    retry_after_seconds: int

    def refusal(self) -> TooManyAttempts:
        seconds = self.retry_after_seconds
        return TooManyAttempts(seconds, TRY_LATER, minutes=max(1, math.ceil(seconds / 60)))


async def attempt(*buckets: str, limit: int = LIMIT, window: timedelta = WINDOW) -> Attempt:
    """Count one attempt in every bucket; `TooManyAttempts` (with the seconds to wait)
    when any bucket holds more than `limit` within `window`."""
    now = clock.utcnow()
    async with db.connection() as connection:
        rows = await connection.fetch(_RECORD, list(buckets), now)
        tried = Attempt(tuple(int(row["id"]) for row in rows))
        await refuse_when_full(connection, buckets, now, limit=limit, window=window)
    return tried


async def full_bucket(
    connection: Any,
    buckets: Sequence[str],
    now: datetime,
    *,
    limit: int = LIMIT,
    window: timedelta = WINDOW,
) -> Full | None:
    """The bucket holding more than `limit` attempts (this one included, already
    recorded and committed) within `window`, if there is one."""
    fullest = await connection.fetchrow(_FULLEST, list(buckets), now - window)
    if not fullest or fullest["n"] <= limit:
        return None
    wait = (fullest["first"] + window - now).total_seconds()
    return Full(fullest["bucket"], max(1, math.ceil(wait)))


async def refuse_when_full(
    connection: Any,
    buckets: Sequence[str],
    now: datetime,
    *,
    limit: int = LIMIT,
    window: timedelta = WINDOW,
) -> None:
    """`TooManyAttempts` when a bucket holds more than `limit` attempts (this one
    included, already recorded and committed) within `window`."""
    full = await full_bucket(connection, buckets, now, limit=limit, window=window)
    if full is not None:
        raise full.refusal()


async def succeeded(done: Attempt) -> None:
    """The attempt was right: it no longer counts against its buckets."""
    if done.ids:
        await ThrottleAttempt.delete().where(ThrottleAttempt.id.is_in(list(done.ids)))


async def forget_old(older_than: timedelta = WINDOW * 4) -> int:
    """Housekeeping for the worker: attempts outside every window."""
    rows = (
        await ThrottleAttempt.delete()
        .where(ThrottleAttempt.at < clock.utcnow() - older_than)
        .returning(ThrottleAttempt.id)
    )
    return len(rows)
