"""Digests: people on a daily or weekly rhythm are told of new documents once a day
(at `settings.digest_hour`, in `settings.digest_timezone`) or once a week (Mondays,
same hour), in one e-mail listing every number's new documents.

`notify_due` passes them by and records in `notice_digest.pending_since` since when
documents wait for them. At the first digest time after that moment, `send_digests`
lists the documents of the events processed since then that the person can still see
(`visible_document`) for the numbers whose notices they have on, queues one e-mail,
clears `pending_since` and stamps `last_digest_at`: nothing waits, nothing is sent
until something new comes. Someone who switches back to "immediately" while
documents wait loses nothing: their next notice lists those too (`notify_due`), or,
if none comes first, a final digest is sent at once.
The rows of the people being served are locked (`FOR UPDATE SKIP LOCKED`), so two
workers never send one digest twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from iportal import clock, db
from iportal.notifications.notices import WAITING_SQL, group_notices, queue_notices
from iportal.settings import Settings

PEOPLE_PER_ROUND = 200

# Whose digest is due: documents have waited since before the last daily (weekly)
# digest time, or they are told at once now and something still waits.
DUE_SQL = """
SELECT nd.user_id
  FROM notice_digest nd
  JOIN portal_user u ON u.id = nd.user_id
 WHERE nd.pending_since IS NOT NULL
   AND (u.notification_frequency = 'immediate'
        OR (u.notification_frequency = 'daily' AND nd.pending_since <= $1)
        OR (u.notification_frequency = 'weekly' AND nd.pending_since <= $2))
 ORDER BY nd.user_id
 LIMIT $3
   FOR UPDATE OF nd SKIP LOCKED
"""
SERVED_SQL = """
UPDATE notice_digest SET pending_since = NULL, last_digest_at = $2
 WHERE user_id = ANY($1::int[])
"""


def last_digest_times(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """The latest daily and weekly digest times at or before `now`, in UTC (the local
    hour is kept across daylight saving time)."""
    zone = ZoneInfo(settings.digest_timezone)
    local = now.astimezone(zone)
    hour = time(settings.digest_hour)

    def at(day: datetime) -> datetime:
        return datetime.combine(day.date(), hour, tzinfo=zone)

    daily = at(local) if at(local) <= local else at(local - timedelta(days=1))
    monday = local - timedelta(days=local.weekday())
    weekly = at(monday) if at(monday) <= local else at(monday - timedelta(days=7))
    return daily.astimezone(UTC), weekly.astimezone(UTC)


async def send_digests(settings: Settings, now: datetime | None = None) -> int:
    """Queue the digests that are due; returns how many people were served."""
    now = now or clock.utcnow()
    daily, weekly = last_digest_times(settings, now)
    base_url = settings.base_url.rstrip("/")
    async with db.transaction():
        people = [
            row["user_id"] for row in await db.fetch(DUE_SQL, daily, weekly, PEOPLE_PER_ROUND)
        ]
        if not people:
            return 0
        waiting = await db.fetch(WAITING_SQL, people, now)
        await queue_notices(settings, group_notices(waiting, base_url))
        await db.execute(SERVED_SQL, people, now)
    return len(people)
