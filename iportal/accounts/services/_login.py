"""Logging in: both factors checked and throttled (how an attempt counts, the lock
after 100 consecutive failures and the owner's notices are in `_login_attempts`),
then a new session and a device cookie for the browser.

A login is the portal's costliest request (one argon2 verification), so what it
reads and writes around the hash takes as few round trips as its rules allow: the
user and the attempt in one statement, the throttle's count in a second, and what a
success writes (attempt withdrawn, failures reset, audit event, session) in a third,
all or nothing because it is one statement.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from iportal import clock, db
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._devices import known_device, new_device_cookie
from iportal.accounts.services._login_attempts import (
    Tried,
    named_and_tried,
    record_login_failure,
)
from iportal.accounts.services._second_factor import verify_second_factor
from iportal.accounts.services._sessions import (
    NewSession,
    new_session_row,
    opened_session,
)
from iportal.accounts.services._throttle import Attempt, succeeded
from iportal.accounts.services._users import USER_COLUMNS, UserRow, user_from
from iportal.accounts.tables import PortalUser, UserSession
from iportal.errors import NotAuthenticated
from iportal.i18n import N_
from iportal.security import hash_password, keyed_hash, new_token, verify_password
from iportal.settings import Settings

LOGIN_FAILED = N_("The username or password is not correct.")
CODE_WRONG = N_("This code is not correct, or it was already used. Enter the current code.")
PENDING_EXPIRED = N_("Your login has expired. Please log in again.")
PENDING_PURPOSE = "pending-login"
PENDING_LOGIN_LIFETIME = timedelta(minutes=10)

# A right password: the attempt withdrawn, the failures forgotten (and the lock
# lifted, which only a known device gets this far with), the event, the session.
LOGGED_IN_SQL = """
WITH withdrawn AS (DELETE FROM throttle_attempt WHERE id = ANY($1::bigint[])),
forgiven AS (
    UPDATE portal_user SET failed_login_count = 0, locked_at = NULL
     WHERE id = $2 AND (failed_login_count <> 0 OR locked_at IS NOT NULL)
),
audited AS (
    INSERT INTO audit_event (kind, actor_id, ip, detail)
    VALUES ('login_succeeded', $2, $3,
            jsonb_strip_nulls(jsonb_build_object('with', $4::text, 'unlocked', $10::boolean)))
)
INSERT INTO user_session
       (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent)
VALUES ($5, $2, $6, $7, $7, $8, $3, $9)
RETURNING id
"""
# The user of a login waiting for its second factor, and the pending row's id (a
# locked account is refused after, unless the browser is a known device).
PENDING_USER_SQL = f"""
SELECT s.id AS pending_id, {USER_COLUMNS}
  FROM user_session s JOIN portal_user u ON u.id = s.user_id
 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
   AND u.totp_enabled_at IS NOT NULL
"""  # noqa: S608 (constant text only)
# The pending login used up, once: of two requests with the same code, one wins.
PENDING_USED_SQL = """
UPDATE user_session SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING id
"""


async def _first_factor(
    settings: Settings, username: str, password: str, *, ip: str, device_cookie: str | None
) -> tuple[UserRow, Tried]:
    """The user whose login and password these are. Counted against the account (or
    the known device) and the address before anything is checked; every failure is
    the same error and costs the same time (one argon2 verification, for a login that
    names nobody too). A locked account refuses every browser but its known devices."""
    tried = await named_and_tried(username, ip, known_device(settings, device_cookie))
    user = tried.user
    matches, needs_rehash = await verify_password(user.password_hash if user else None, password)
    shut_out = user is not None and user.locked_at is not None and not tried.known_device
    if user is None or not matches or shut_out:
        if user is not None:
            await record_login_failure(user.id, ip=ip, reason="locked" if shut_out else "password")
        raise NotAuthenticated(LOGIN_FAILED)
    if needs_rehash:
        await PortalUser.update({PortalUser.password_hash: await hash_password(password)}).where(
            PortalUser.id == user.id
        )
    return user, tried


async def _both_factors(
    settings: Settings,
    username: str,
    password: str,
    *,
    totp: str | None,
    ip: str,
    device_cookie: str | None,
) -> tuple[UserRow, Tried, str]:
    user, tried = await _first_factor(
        settings, username, password, ip=ip, device_cookie=device_cookie
    )
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
    count reset (and a lock lifted), the audit event and a new session; and a new
    device cookie for this browser."""
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
        True if user.locked_at is not None else None,
    )
    opened = opened_session(new, user, session_id)
    return dataclasses.replace(opened, device_cookie=new_device_cookie(settings, user.id))


async def authenticate(
    settings: Settings, username: str, password: str, *, totp: str | None = None, ip: str = ""
) -> UserRow:
    """Both factors at once and no session: login and password, and the TOTP code or
    a recovery code when the user has TOTP on. Every failure is the same 401."""
    user, tried, method = await _both_factors(
        settings, username, password, totp=totp, ip=ip, device_cookie=None
    )
    await succeeded(tried.attempt)
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
    device_cookie: str | None = None,
) -> NewSession:
    """The JSON API's login: both factors in one request, then a new session."""
    user, tried, method = await _both_factors(
        settings, username, password, totp=totp, ip=ip, device_cookie=device_cookie
    )
    return await _logged_in(
        settings, user, tried.attempt, method=method, ip=ip, user_agent=user_agent
    )


@dataclass(frozen=True)
class PendingLogin:
    """The password was right and a code is still needed: the cookie names a
    server-side record (no state in the browser beyond a random id)."""

    cookie_value: str


async def begin_login(
    settings: Settings,
    username: str,
    password: str,
    *,
    ip: str = "",
    user_agent: str = "",
    device_cookie: str | None = None,
) -> NewSession | PendingLogin:
    """The web login's first step: a session, or a pending login waiting for its code."""
    user, tried = await _first_factor(
        settings, username, password, ip=ip, device_cookie=device_cookie
    )
    if not user.totp_required:
        return await _logged_in(
            settings, user, tried.attempt, method="password", ip=ip, user_agent=user_agent
        )
    await succeeded(tried.attempt)  # the password was right; codes are throttled on their own
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


async def _pending_user(
    settings: Settings, cookie_value: str | None, device_cookie: str | None
) -> tuple[int, UserRow]:
    """The pending login's id and its user; `NotAuthenticated` when it is gone, or
    when the account was locked meanwhile and this browser is no known device."""
    row = await db.fetchrow(
        PENDING_USER_SQL,
        keyed_hash(settings.secret_key, cookie_value or "", purpose=PENDING_PURPOSE),
        clock.utcnow(),
    )
    if not cookie_value or row is None:
        raise NotAuthenticated(PENDING_EXPIRED)
    user = user_from(row)
    device = known_device(settings, device_cookie)
    if user.locked_at is not None and (device is None or device.user_id != user.id):
        raise NotAuthenticated(PENDING_EXPIRED)
    return row["pending_id"], user


async def pending_login_exists(
    settings: Settings, cookie_value: str | None, device_cookie: str | None = None
) -> bool:
    try:
        await _pending_user(settings, cookie_value, device_cookie)
    except NotAuthenticated:
        return False
    return True


async def finish_login(
    settings: Settings,
    cookie_value: str | None,
    code: str,
    *,
    ip: str = "",
    user_agent: str = "",
    device_cookie: str | None = None,
) -> NewSession:
    """The web login's second step: the code (or a recovery code) for a pending login.
    A wrong code counts as a failed login; the pending login is used up only on success."""
    pending_id, user = await _pending_user(settings, cookie_value, device_cookie)
    if not await verify_second_factor(settings.secret_key, user, code, ip=ip):
        await record_login_failure(user.id, ip=ip, reason="second_factor")
        raise NotAuthenticated(CODE_WRONG)
    consumed = await db.fetchval(PENDING_USED_SQL, clock.utcnow(), pending_id)
    if consumed is None:
        raise NotAuthenticated(PENDING_EXPIRED)
    return await _logged_in(
        settings, user, Attempt(()), method="totp", ip=ip, user_agent=user_agent
    )
