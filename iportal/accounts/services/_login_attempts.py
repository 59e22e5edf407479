"""How a login attempt counts: who the login names, in which buckets the attempt is
counted before anything is checked, the consecutive failures and the lock, and the
e-mails that tell the owner someone is guessing.

A browser that logged into the account before (a valid device cookie, see `_devices`)
is counted in a bucket of its own; every other one shares the account's bucket. So
guesses keep the account's bucket full without keeping the owner's known browsers
out, and the lock after 100 failures shuts out unknown devices only: a known browser
with the right password opens it again. Every failure is audited; the owner is
e-mailed a reset link when the account's bucket refuses someone (once a day at
most) and when the account locks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta

from iportal import clock, db
from iportal.accounts.identifiers import (
    foreign_vat_number,
    looks_like_enterprise_number,
    normalise_enterprise_number,
)
from iportal.accounts.services._devices import KnownDevice
from iportal.accounts.services._throttle import Attempt, bucket, full_bucket
from iportal.accounts.services._users import USER_COLUMNS, UserRow, user_from
from iportal.errors import InvalidInput

# Consecutive failures (password or second factor) after which the account is
# locked to unknown devices until a password reset or a login from a known one;
# throttling makes this about 150 minutes at best.
LOCK_AFTER_FAILURES = 100
# The owner hears that the account's bucket refuses logins once a day at most.
NOTICE_INTERVAL = timedelta(days=1)

# An account login (enterprise number, foreign VAT number, e-mail) leads to the
# account's main contact; otherwise the user with that e-mail.
NAMED_SQL = f"""
SELECT {USER_COLUMNS} FROM account a
  JOIN account_membership m ON m.account_id = a.id AND m.role = 'main_contact'
  JOIN portal_user u ON u.id = m.user_id
 WHERE a.login = $1
UNION ALL
SELECT {USER_COLUMNS} FROM portal_user u WHERE u.email = lower($1)
LIMIT 1
"""  # noqa: S608 (constant text only)
# The user and the attempt counted in the account's bucket ($2 and the user's id,
# or $3 for a login naming nobody), or the device's ($7) when the browser is a known
# device of that user ($6), and in the address's ($4), at $5.
NAMED_AND_TRIED_SQL = f"""
WITH named AS ({NAMED_SQL}),
tried AS (
    INSERT INTO throttle_attempt (bucket, at)
    SELECT unnest(ARRAY[
        CASE WHEN (SELECT id FROM named) = $6 THEN $7
             ELSE coalesce($2 || (SELECT id FROM named), $3) END,
        $4]), $5
    RETURNING id
)
SELECT named.*, ARRAY(SELECT id FROM tried) AS attempt_ids
  FROM (SELECT) AS one LEFT JOIN named ON true
"""  # noqa: S608 (constant text only)
# One more consecutive failure; the hundredth locks the account, records it and
# asks the worker to e-mail the owner a reset link.
FAILED_SQL = """
WITH counted AS (
    UPDATE portal_user
       SET failed_login_count = failed_login_count + 1,
           locked_at = CASE WHEN locked_at IS NULL AND failed_login_count + 1 >= $2
                            THEN $3 ELSE locked_at END
     WHERE id = $1
    RETURNING failed_login_count, locked_at, email
),
failed AS (
    INSERT INTO audit_event (kind, actor_id, ip, detail)
    VALUES ('login_failed', $1, $4, jsonb_build_object('reason', $5::text))
),
told AS (
    INSERT INTO password_reset_request (email, reason, ip, requested_at)
    SELECT email, 'locked', $4, $3 FROM counted WHERE locked_at = $3
)
INSERT INTO audit_event (kind, actor_id, ip, detail)
SELECT 'account_locked', $1, $4, jsonb_build_object('failed_logins', failed_login_count)
  FROM counted WHERE locked_at = $3
"""
# The account's bucket refused a login: the owner is told, once a day at most ($3).
THROTTLED_NOTICE_SQL = """
WITH noticed AS (
    UPDATE portal_user SET guessing_noticed_at = $2
     WHERE id = $1 AND (guessing_noticed_at IS NULL OR guessing_noticed_at <= $3)
    RETURNING email
)
INSERT INTO password_reset_request (email, reason, ip, requested_at)
SELECT email, 'throttled', $4, $2 FROM noticed
"""


def normalise_login(username: str) -> str:
    """The canonical form of what was typed as a login: an enterprise number in its
    `BE0123456789` form, a foreign VAT number compact and in capitals (`de 811 907 980`
    → `DE811907980`), anything else trimmed (e-mail addresses compare lowercased)."""
    login = username.strip()
    if looks_like_enterprise_number(login):
        with contextlib.suppress(InvalidInput):  # a mistyped number simply finds nobody
            login = normalise_enterprise_number(login)
        return login
    return foreign_vat_number(login) or login


async def find_user_for_login(username: str) -> UserRow | None:
    """The user a login names: an account login (enterprise number, VAT number, e-mail)
    leads to the account's main contact; otherwise the user with that e-mail."""
    login = normalise_login(username)
    if not login:
        return None
    row = await db.fetchrow(NAMED_SQL, login)
    return user_from(row) if row else None


@dataclass(frozen=True)
class Tried:
    """The user a login names (if any), the attempt as counted, and whether the
    browser is a known device of that user."""

    user: UserRow | None
    attempt: Attempt
    known_device: bool


async def named_and_tried(username: str, ip: str, device: KnownDevice | None) -> Tried:
    """The user a login names, and the attempt counted against the account (or the
    known device) and the address before anything is checked. A login that names
    nobody is throttled under its own name, exactly like one that exists, so a 429
    tells nothing about who has an account."""
    login = normalise_login(username)
    buckets = [
        bucket("login", "account", ""),
        bucket("login", "account", f"?{login.lower()}"),
        bucket("login", "ip", ip),
    ]
    device_user, device_bucket = (device.user_id, device.bucket) if device else (None, None)
    now = clock.utcnow()
    async with db.connection() as connection:
        row = await connection.fetchrow(
            NAMED_AND_TRIED_SQL, login, *buckets, now, device_user, device_bucket
        )
        user = user_from(row) if row["id"] is not None else None
        known = user is not None and user.id == device_user
        tried = Tried(user, Attempt(tuple(row["attempt_ids"])), known)
        if user is None:
            own = buckets[1]  # the name typed
        elif device_bucket is not None and known:
            own = device_bucket
        else:
            own = bucket("login", "account", user.id)  # shared by every unknown device
        full = await full_bucket(connection, [own, buckets[2]], now)
        if full is not None:
            # Run for every refusal (naming nobody too), so that a 429 takes the same
            # time whoever it is for; only the account's shared bucket tells the owner.
            shared = user is not None and not known and full.bucket == own
            owner = user.id if user is not None and shared else None
            await connection.execute(
                THROTTLED_NOTICE_SQL, owner, now, now - NOTICE_INTERVAL, ip[:45]
            )
            raise full.refusal()
    return tried


async def record_login_failure(user_id: int, *, ip: str = "", reason: str) -> None:
    """One more consecutive failure; the hundredth locks the account until a reset."""
    await db.execute(FAILED_SQL, user_id, LOCK_AFTER_FAILURES, clock.utcnow(), ip[:45], reason)
