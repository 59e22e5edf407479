"""The week-before warning of access for a time: a shared user whose access ends by
itself (`until`) is told by e-mail, once per end date, in their language.

Access itself needs no job: it ends at the instant the database derived from the
date, whether this runs or not. This is the worker's job (`iportal worker`, composed by
the CLI): it claims, with `FOR UPDATE SKIP LOCKED` so that any number of workers may
run, the shared users whose end falls in the coming week and who were not yet warned
for that date, records the date warned for (`warned_until`) and queues the e-mail in
the same transaction: exactly once. A new end date re-arms it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from iportal import clock, db
from iportal.notifications.services import queue_email
from iportal.settings import Settings

WARNING_LEAD = timedelta(days=7)
TEMPLATE = "sharing/email/access_ending"

# Marked warned in the statement that claims them; `$1` now, `$2` the lead.
CLAIM_SQL = """
UPDATE shared_user su SET warned_until = su.access_until
 WHERE su.id IN (SELECT s.id FROM shared_user s
                  WHERE s.access_ends_at > $1 AND s.access_ends_at <= $1 + $2::interval
                    AND s.warned_until IS DISTINCT FROM s.access_until
                  ORDER BY s.id LIMIT $3
                    FOR UPDATE SKIP LOCKED)
RETURNING su.id
"""
# Who to tell, with the numbers they see in that account and who shared it.
WARNED_SQL = """
SELECT su.id, su.access_until, u.id AS user_id, u.email, u.first_name, u.language,
       a.login AS account_login,
       coalesce(nullif(trim(mu.first_name || ' ' || mu.last_name), ''), mu.email, '')
           AS sharer,
       coalesce(string_agg(cn.client_code, ', ' ORDER BY cn.client_code), '') AS client_codes
  FROM shared_user su
  JOIN portal_user u ON u.id = su.user_id
  JOIN account a ON a.id = su.account_id
  LEFT JOIN account_membership m ON m.account_id = a.id AND m.role = 'main_contact'
  LEFT JOIN portal_user mu ON mu.id = m.user_id
  LEFT JOIN client_number_grant g ON g.shared_user_id = su.id
  LEFT JOIN client_number cn ON cn.id = g.client_number_id AND cn.account_id = su.account_id
 WHERE su.id = ANY($1::int[])
 GROUP BY su.id, u.id, a.id, mu.id
 ORDER BY su.id
"""


async def warn_expiring_access(
    settings: Settings, now: datetime | None = None, limit: int = 100
) -> int:
    """Queue the warning for every access ending within a week and not yet warned for
    that date (at most `limit` a round); returns how many were queued."""
    moment = now or clock.utcnow()
    async with db.transaction():
        claimed = [row["id"] for row in await db.fetch(CLAIM_SQL, moment, WARNING_LEAD, limit)]
        if not claimed:
            return 0
        for row in await db.fetch(WARNED_SQL, claimed):
            context = {
                "first_name": row["first_name"],
                "sharer": row["sharer"],
                "account_login": row["account_login"],
                "client_codes": row["client_codes"],
                "until": row["access_until"],
                "base_url": settings.base_url,
            }
            await queue_email(
                TEMPLATE, row["email"], row["language"], context, user_id=row["user_id"]
            )
    return len(claimed)
