"""Logging in: who a login names, both factors checked and throttled, lockout after
100 consecutive failures, then a new session.

A login is the portal's costliest request (one argon2 verification), so what it
reads and writes around the hash takes as few round trips as its rules allow: the
user and the attempt in one statement, the throttle's count in a second, and what a
success writes (attempt withdrawn, failures reset, audit event, session) in a third,
all or nothing because it is one statement.
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
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._second_factor import verify_second_factor
from iportal.accounts.services._sessions import (
    NewSession,
    new_session_row,
    opened_session,
)
from iportal.accounts.services._throttle import Attempt, bucket, refuse_when_full, succeeded
from iportal.accounts.services._users import USER_COLUMNS, UserRow, user_from
from iportal.accounts.tables import PortalUser, UserSession
from iportal.errors import InvalidInput, NotAuthenticated
from iportal.i18n import N_
from iportal.security import hash_password, keyed_hash, new_token, verify_password
from iportal.settings import Settings

LOGIN_FAILED = N_("The username or password is not correct.")
CODE_WRONG = N_("This code is not correct, or it was already used. Enter the current code.")
PENDING_EXPIRED = N_("Your login has expired. Please log in again.")
PENDING_PURPOSE = "pending-login"
PENDING_LOGIN_LIFETIME = timedelta(minutes=10)
# Consecutive failures (password or second factor) after which the account is
# locked until a password reset; throttling makes this about 150 minutes at best.
LOCK_AFTER_FAILURES = 100

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
# or $3 for a login naming nobody) and the address's ($4), at $5.
NAMED_AND_TRIED_SQL = f"""
WITH named AS ({NAMED_SQL}),
tried AS (
    INSERT INTO throttle_attempt (bucket, at)
    SELECT unnest(ARRAY[coalesce($2 || (SELECT id FROM named), $3), $4]), $5
    RETURNING id
)
SELECT named.*, ARRAY(SELECT id FROM tried) AS attempt_ids
  FROM (SELECT) AS one LEFT JOIN named ON true
"""  # noqa: S608 (constant text only)
# A right password: the attempt withdrawn, the failures forgotten, the event, the session.
LOGGED_IN_SQL = """
WITH withdrawn AS (DELETE FROM throttle_attempt WHERE id = ANY($1::bigint[])),
forgiven AS (
    UPDATE portal_user SET failed_login_count = 0 WHERE id = $2 AND failed_login_count <> 0
),
audited AS (
    INSERT INTO audit_event (kind, actor_id, ip, detail)
    VALUES ('login_succeeded', $2, $3, jsonb_build_object('with', $4::text))
)
INSERT INTO user_session
       (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent)
VALUES ($5, $2, $6, $7, $7, $8, $3, $9)
RETURNING id
"""
# One more consecutive failure; the hundredth locks the account, and says so.
FAILED_SQL = """
WITH counted AS (
    UPDATE portal_user
       SET failed_login_count = failed_login_count + 1,
           locked_at = CASE WHEN locked_at IS NULL AND failed_login_count + 1 >= $2
                            THEN $3 ELSE locked_at END
     WHERE id = $1
    RETURNING failed_login_count, locked_at
),
failed AS (
    INSERT INTO audit_event (kind, actor_id, ip, detail)
    VALUES ('login_failed', $1, $4, jsonb_build_object('reason', $5::text))
)
INSERT INTO audit_event (kind, actor_id, ip, detail)
SELECT 'account_locked', $1, $4, jsonb_build_object('failed_logins', failed_login_count)
  FROM counted WHERE locked_at = $3
"""
# The user of a login waiting for its second factor, and the pending row's id.
PENDING_USER_SQL = f"""
SELECT s.id AS pending_id, {USER_COLUMNS}
  FROM user_session s JOIN portal_user u ON u.id = s.user_id
 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
   AND u.locked_at IS NULL AND u.totp_enabled_at IS NOT NULL
"""  # noqa: S608 (constant text only)
# The pending login used up, once: of two requests with the same code, one wins.
PENDING_USED_SQL = """
UPDATE user_session SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING id
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


async def _named_and_tried(username: str, ip: str) -> tuple[UserRow | None, Attempt]:
    """The user a login names, and the attempt counted against the account and the
    address before anything is checked. A login that names nobody is throttled under
    its own name, exactly like one that exists, so a 429 tells nothing about who has
    an account."""
    login = normalise_login(username)
    buckets = [
        bucket("login", "account", ""),
        bucket("login", "account", f"?{login.lower()}"),
        bucket("login", "ip", ip),
    ]
    now = clock.utcnow()
    async with db.connection() as connection:
        row = await connection.fetchrow(NAMED_AND_TRIED_SQL, login, *buckets, now)
        tried = Attempt(tuple(row["attempt_ids"]))
        user = user_from(row) if row["id"] is not None else None
        counted = [bucket("login", "account", user.id) if user else buckets[1], buckets[2]]
        await refuse_when_full(connection, counted, now)
    return user, tried


async def record_login_failure(user_id: int, *, ip: str = "", reason: str) -> None:
    """One more consecutive failure; the hundredth locks the account until a reset."""
    await db.execute(FAILED_SQL, user_id, LOCK_AFTER_FAILURES, clock.utcnow(), ip[:45], reason)


async def _first_factor(username: str, password: str, *, ip: str) -> tuple[UserRow, Attempt]:
    """The user whose login and password these are. Counted against the account and
    the address before anything is checked; every failure is the same error and
    costs the same time (one argon2 verification, for a login that names nobody too)."""
    user, tried = await _named_and_tried(username, ip)
    matches, needs_rehash = await verify_password(user.password_hash if user else None, password)
    if user is None or not matches or user.locked_at is not None:
        if user is not None:
            reason = "locked" if user.locked_at is not None else "password"
            await record_login_failure(user.id, ip=ip, reason=reason)
        raise NotAuthenticated(LOGIN_FAILED)
    if needs_rehash:
        await PortalUser.update({PortalUser.password_hash: await hash_password(password)}).where(
            PortalUser.id == user.id
        )
    return user, tried


async def _both_factors(
    settings: Settings, username: str, password: str, *, totp: str | None, ip: str
) -> tuple[UserRow, Attempt, str]:
    user, tried = await _first_factor(username, password, ip=ip)
    if not user.totp_required:
        return user, tried, "password"
    if not totp or not await verify_second_factor(settings.secret_key, user, totp, ip=ip):
        await record_login_failure(user.id, ip=ip, reason="second_factor")
        raise NotAuthenticated(LOGIN_FAILED)
    return user, tried, "totp"


async def _logged_in(
    settings: Settings,
    user: UserRow,
    tried: Attempt,
    *,
    method: str,
    ip: str,
    user_agent: str,
) -> NewSession:
    """What a success writes, in one statement: the attempt withdrawn, the failure
    count reset, the audit event and a new session."""
    new = new_session_row(settings)
    session_id = await db.fetchval(
        LOGGED_IN_SQL,
        list(tried.ids),
        user.id,
        ip[:45],
        method,
        new.token_hash,
        new.csrf_token,
        new.created_at,
        new.expires_at,
        user_agent[:300],
    )
    return opened_session(new, user, session_id)


async def authenticate(
    settings: Settings, username: str, password: str, *, totp: str | None = None, ip: str = ""
) -> UserRow:
    """Both factors at once and no session: login and password, and the TOTP code or
    a recovery code when the user has TOTP on. Every failure is the same 401."""
    user, tried, method = await _both_factors(settings, username, password, totp=totp, ip=ip)
    await succeeded(tried)
    if user.failed_login_count:
        await PortalUser.update({PortalUser.failed_login_count: 0}).where(PortalUser.id == user.id)
    await record_audit_event("login_succeeded", actor_id=user.id, ip=ip, detail={"with": method})
    return user


async def log_in(
    settings: Settings,
    username: str,
    password: str,
    *,
    totp: str | None = None,
    ip: str = "",
    user_agent: str = "",
) -> NewSession:
    """The JSON API's login: both factors in one request, then a new session."""
    user, tried, method = await _both_factors(settings, username, password, totp=totp, ip=ip)
    return await _logged_in(settings, user, tried, method=method, ip=ip, user_agent=user_agent)


@dataclass(frozen=True)
class PendingLogin:
    """The password was right and a code is still needed: the cookie names a
    server-side record (no state in the browser beyond a random id)."""

    cookie_value: str


async def begin_login(
    settings: Settings, username: str, password: str, *, ip: str = "", user_agent: str = ""
) -> NewSession | PendingLogin:
    """The web login's first step: a session, or a pending login waiting for its code."""
    user, tried = await _first_factor(username, password, ip=ip)
    if not user.totp_required:
        return await _logged_in(
            settings, user, tried, method="password", ip=ip, user_agent=user_agent
        )
    await succeeded(tried)  # the password was right; codes are throttled on their own
    # Kept as a user_session row whose hash uses another purpose, so that its id can
    # never pass for a session's; ending all sessions ends pending logins too.
    now = clock.utcnow()
    cookie_value = new_token()
    await UserSession.insert(
        UserSession(
            token_hash=keyed_hash(settings.secret_key, cookie_value, purpose=PENDING_PURPOSE),
            user=user.id,
            csrf_token=new_token(),
            created_at=now,
            last_seen_at=now,
            expires_at=now + PENDING_LOGIN_LIFETIME,
            ip=ip[:45],
            user_agent=user_agent[:300],
        )
    )
    return PendingLogin(cookie_value)


async def _pending_user(settings: Settings, cookie_value: str | None) -> tuple[int, UserRow]:
    """The pending login's id and its user; `NotAuthenticated` when it is gone."""
    row = await db.fetchrow(
        PENDING_USER_SQL,
        keyed_hash(settings.secret_key, cookie_value or "", purpose=PENDING_PURPOSE),
        clock.utcnow(),
    )
    if not cookie_value or row is None:
        raise NotAuthenticated(PENDING_EXPIRED)
    return row["pending_id"], user_from(row)


async def pending_login_exists(settings: Settings, cookie_value: str | None) -> bool:
    try:
        await _pending_user(settings, cookie_value)
    except NotAuthenticated:
        return False
    return True


async def finish_login(
    settings: Settings, cookie_value: str | None, code: str, *, ip: str = "", user_agent: str = ""
) -> NewSession:
    """The web login's second step: the code (or a recovery code) for a pending login.
    A wrong code counts as a failed login; the pending login is used up only on success."""
    pending_id, user = await _pending_user(settings, cookie_value)
    if not await verify_second_factor(settings.secret_key, user, code, ip=ip):
        await record_login_failure(user.id, ip=ip, reason="second_factor")
        raise NotAuthenticated(CODE_WRONG)
    consumed = await db.fetchval(PENDING_USED_SQL, clock.utcnow(), pending_id)
    if consumed is None:
        raise NotAuthenticated(PENDING_EXPIRED)
    return await _logged_in(
        settings, user, Attempt(()), method="totp", ip=ip, user_agent=user_agent
    )
