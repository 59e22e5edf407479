"""Logging in: who a login names, both factors checked and throttled, lockout after
100 consecutive failures, server-side sessions.

Sessions live in PostgreSQL so that any number of web processes share them; the
cookie carries a random id of 256 bits and the table only its keyed hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from iportal import clock
from iportal.accounts.identifiers import looks_like_enterprise_number, normalise_enterprise_number
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._second_factor import verify_second_factor
from iportal.accounts.services._throttle import Attempt, attempt, bucket, succeeded
from iportal.accounts.tables import PortalUser, UserSession
from iportal.db import atomic
from iportal.errors import InvalidInput, NotAuthenticated
from iportal.i18n import N_
from iportal.security import hash_password, keyed_hash, new_token, verify_password
from iportal.settings import Settings

log = logging.getLogger(__name__)

SESSION_PURPOSE = "session"
# last_seen_at is written at most this often, not on every request.
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
LOGIN_FAILED = N_("The username or password is not correct.")
WRONG_PASSWORD = N_("Your current password is not correct.")
CODE_WRONG = N_("This code is not correct, or it was already used. Enter the current code.")
PENDING_EXPIRED = N_("Your login has expired. Please log in again.")
PENDING_PURPOSE = "pending-login"
PENDING_LOGIN_LIFETIME = timedelta(minutes=10)
# Consecutive failures (password or second factor) after which the account is
# locked until a password reset; throttling makes this about 150 minutes at best.
LOCK_AFTER_FAILURES = 100


_ARGON2_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def _verify_password(password_hash: str | None, password: str) -> tuple[bool, bool]:
    """`verify_password`, at most one per core at a time: more would only be threads
    fighting the event loop for the cores, and every other request would wait."""
    loop = asyncio.get_running_loop()
    slots = _ARGON2_SLOTS.get(loop)
    if slots is None:
        slots = _ARGON2_SLOTS[loop] = asyncio.Semaphore(os.cpu_count() or 1)
    async with slots:
        return await verify_password(password_hash, password)


@dataclass(frozen=True)
class SessionUser:
    """The person behind a browser session, as the web layer needs them."""

    user_id: int
    email: str
    first_name: str
    last_name: str
    language: str
    session_id: int
    csrf_token: str
    # Set when a personal API token (read-only) authenticated the request, not a session.
    token_id: int | None = None

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


@dataclass(frozen=True)
class NewSession:
    cookie_value: str
    csrf_token: str
    user: SessionUser


def normalise_login(username: str) -> str:
    """The canonical form of what was typed as a login: an enterprise number in its
    `BE0123456789` form, anything else trimmed (e-mail addresses compare lowercased)."""
    login = username.strip()
    if looks_like_enterprise_number(login):
        with contextlib.suppress(InvalidInput):  # a mistyped number simply finds nobody
            login = normalise_enterprise_number(login)
    return login


async def find_user_for_login(username: str) -> dict[str, Any] | None:
    """The user a login names: an account login (enterprise number, e-mail, identifier)
    leads to the account's main contact; otherwise the user with that e-mail."""
    login = normalise_login(username)
    if not login:
        return None
    rows = await PortalUser.raw(
        """
        SELECT u.* FROM account a
          JOIN account_membership m ON m.account_id = a.id AND m.role = 'main_contact'
          JOIN portal_user u ON u.id = m.user_id
         WHERE a.login = {}
        UNION ALL
        SELECT u.* FROM portal_user u WHERE u.email = lower({})
        LIMIT 1
        """,
        login,
        login,
    )
    return rows[0] if rows else None


def _account_bucket(user: dict[str, Any] | None, username: str) -> str:
    # A login that names nobody is throttled under its own name, exactly like one
    # that exists, so that a 429 tells nothing about who has an account.
    key = user["id"] if user else f"?{normalise_login(username).lower()}"
    return bucket("login", "account", key)


async def record_login_failure(user_id: int, *, ip: str = "", reason: str) -> None:
    """One more consecutive failure; the hundredth locks the account until a reset."""
    now = clock.utcnow()
    rows = await PortalUser.raw(
        """
        UPDATE portal_user
           SET failed_login_count = failed_login_count + 1,
               locked_at = CASE WHEN locked_at IS NULL AND failed_login_count + 1 >= {}
                                THEN {} ELSE locked_at END
         WHERE id = {}
        RETURNING failed_login_count, locked_at
        """,
        LOCK_AFTER_FAILURES,
        now,
        user_id,
    )
    await record_audit_event("login_failed", actor_id=user_id, ip=ip, detail={"reason": reason})
    if rows and rows[0]["locked_at"] == now:  # this failure locked it, no earlier one
        await record_audit_event(
            "account_locked",
            actor_id=user_id,
            ip=ip,
            detail={"failed_logins": rows[0]["failed_login_count"]},
        )


async def _first_factor(username: str, password: str, *, ip: str) -> tuple[dict[str, Any], Attempt]:
    """The user whose login and password these are. Counted against the account and
    the address before anything is checked; every failure is the same error and
    costs the same time (one argon2 verification, for a login that names nobody too)."""
    user = await find_user_for_login(username)
    tried = await attempt(_account_bucket(user, username), bucket("login", "ip", ip))
    matches, needs_rehash = await _verify_password(
        user["password_hash"] if user else None, password
    )
    if user is None or not matches or user["locked_at"] is not None:
        if user is not None:
            reason = "locked" if user["locked_at"] is not None else "password"
            await record_login_failure(user["id"], ip=ip, reason=reason)
        raise NotAuthenticated(LOGIN_FAILED)
    if needs_rehash:
        await PortalUser.update({PortalUser.password_hash: await hash_password(password)}).where(
            PortalUser.id == user["id"]
        )
    return user, tried


def totp_required(user: dict[str, Any]) -> bool:
    return user["totp_enabled_at"] is not None


async def _logged_in(user: dict[str, Any], *, ip: str, method: str) -> None:
    if user["failed_login_count"]:  # the usual login has nothing to reset: no query
        await PortalUser.update({PortalUser.failed_login_count: 0}).where(
            PortalUser.id == user["id"]
        )
    await record_audit_event("login_succeeded", actor_id=user["id"], ip=ip, detail={"with": method})


async def _both_factors(
    settings: Settings, username: str, password: str, *, totp: str | None, ip: str
) -> tuple[dict[str, Any], Attempt, str]:
    user, tried = await _first_factor(username, password, ip=ip)
    if not totp_required(user):
        return user, tried, "password"
    if not totp or not await verify_second_factor(settings.secret_key, user, totp, ip=ip):
        await record_login_failure(user["id"], ip=ip, reason="second_factor")
        raise NotAuthenticated(LOGIN_FAILED)
    return user, tried, "totp"


async def authenticate(
    settings: Settings, username: str, password: str, *, totp: str | None = None, ip: str = ""
) -> dict[str, Any]:
    """Both factors at once (the JSON API): login and password, and the TOTP code or
    a recovery code when the user has TOTP on. Every failure is the same 401."""
    user, tried, method = await _both_factors(settings, username, password, totp=totp, ip=ip)
    await succeeded(tried)
    await _logged_in(user, ip=ip, method=method)
    return user


async def check_current_password(user_id: int, password: str, *, ip: str = "") -> None:
    """For changes a logged-in person makes (password, TOTP removal): the password
    must be theirs. Throttled like logins, so a stolen session is no password oracle."""
    user = await PortalUser.select(PortalUser.password_hash).where(PortalUser.id == user_id).first()
    tried = await attempt(bucket("login", "account", user_id), bucket("login", "ip", ip))
    matches, _ = await _verify_password(user["password_hash"] if user else None, password)
    if not matches:
        raise InvalidInput(WRONG_PASSWORD)
    await succeeded(tried)


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
    await succeeded(tried)  # the password was right; codes are throttled on their own
    if not totp_required(user):
        await _logged_in(user, ip=ip, method="password")
        return await start_session(settings, user, ip=ip, user_agent=user_agent)
    # Kept as a user_session row whose hash uses another purpose, so that its id can
    # never pass for a session's; ending all sessions ends pending logins too.
    now = clock.utcnow()
    cookie_value = new_token()
    await UserSession.insert(
        UserSession(
            token_hash=keyed_hash(settings.secret_key, cookie_value, purpose=PENDING_PURPOSE),
            user=user["id"],
            csrf_token=new_token(),
            created_at=now,
            last_seen_at=now,
            expires_at=now + PENDING_LOGIN_LIFETIME,
            ip=ip[:45],
            user_agent=user_agent[:300],
        )
    )
    return PendingLogin(cookie_value)


async def _pending_user(settings: Settings, cookie_value: str | None) -> dict[str, Any]:
    rows = await UserSession.raw(
        """
        SELECT s.id AS pending_id, u.* FROM user_session s JOIN portal_user u ON u.id = s.user_id
         WHERE s.token_hash = {} AND s.revoked_at IS NULL AND s.expires_at > {}
           AND u.locked_at IS NULL AND u.totp_enabled_at IS NOT NULL
        """,
        keyed_hash(settings.secret_key, cookie_value or "", purpose=PENDING_PURPOSE),
        clock.utcnow(),
    )
    if not cookie_value or not rows:
        raise NotAuthenticated(PENDING_EXPIRED)
    return rows[0]


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
    user = await _pending_user(settings, cookie_value)
    if not await verify_second_factor(settings.secret_key, user, code, ip=ip):
        await record_login_failure(user["id"], ip=ip, reason="second_factor")
        raise NotAuthenticated(CODE_WRONG)
    consumed = await UserSession.raw(
        "UPDATE user_session SET revoked_at = {} WHERE id = {} AND revoked_at IS NULL RETURNING id",
        clock.utcnow(),
        user["pending_id"],
    )
    if not consumed:
        raise NotAuthenticated(PENDING_EXPIRED)
    await _logged_in(user, ip=ip, method="totp")
    return await start_session(settings, user, ip=ip, user_agent=user_agent)


def _session_hash(settings: Settings, cookie_value: str) -> str:
    return keyed_hash(settings.secret_key, cookie_value, purpose=SESSION_PURPOSE)


async def start_session(
    settings: Settings, user: dict[str, Any], *, ip: str = "", user_agent: str = ""
) -> NewSession:
    """A new session with a fresh id (never one the browser brought: no fixation)."""
    now = clock.utcnow()
    cookie_value = new_token()
    csrf_token = new_token()
    rows = await UserSession.insert(
        UserSession(
            token_hash=_session_hash(settings, cookie_value),
            user=user["id"],
            csrf_token=csrf_token,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_max_hours),
            ip=ip[:45],
            user_agent=user_agent[:300],
        )
    ).returning(UserSession.id)
    session_user = SessionUser(
        user_id=user["id"],
        email=user["email"],
        first_name=user["first_name"],
        last_name=user["last_name"],
        language=user["language"],
        session_id=rows[0]["id"],
        csrf_token=csrf_token,
    )
    return NewSession(cookie_value=cookie_value, csrf_token=csrf_token, user=session_user)


async def session_user(settings: Settings, cookie_value: str | None) -> SessionUser | None:
    """The user of a live session, or None when it is unknown, revoked or timed out
    (idle longer than the idle timeout, or older than the absolute lifetime)."""
    if not cookie_value:
        return None
    now = clock.utcnow()
    idle_limit = now - timedelta(minutes=settings.session_idle_minutes)
    rows = await UserSession.raw(
        """
        SELECT s.id, s.csrf_token, s.last_seen_at, u.id AS user_id, u.email,
               u.first_name, u.last_name, u.language
          FROM user_session s JOIN portal_user u ON u.id = s.user_id
         WHERE s.token_hash = {} AND s.revoked_at IS NULL
           AND s.expires_at > {} AND s.last_seen_at > {} AND u.locked_at IS NULL
        """,
        _session_hash(settings, cookie_value),
        now,
        idle_limit,
    )
    if not rows:
        return None
    row = rows[0]
    if now - row["last_seen_at"] > SESSION_TOUCH_INTERVAL:
        await UserSession.update({UserSession.last_seen_at: now}).where(UserSession.id == row["id"])
    return SessionUser(
        user_id=row["user_id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        language=row["language"],
        session_id=row["id"],
        csrf_token=row["csrf_token"],
    )


async def end_session(session: SessionUser, *, ip: str = "") -> None:
    await UserSession.update({UserSession.revoked_at: clock.utcnow()}).where(
        (UserSession.id == session.session_id) & UserSession.revoked_at.is_null()
    )
    await record_audit_event("logout", actor_id=session.user_id, ip=ip)


async def end_all_sessions(user_id: int, *, except_session_id: int | None = None) -> int:
    """Revoke every live session of a user (after a password or TOTP change)."""
    query = UserSession.update({UserSession.revoked_at: clock.utcnow()}).where(
        (UserSession.user == user_id) & UserSession.revoked_at.is_null()
    )
    if except_session_id is not None:
        query = query.where(UserSession.id != except_session_id)
    rows = await query.returning(UserSession.id)
    return len(rows)


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
    async with atomic():  # one connection for what a success writes, all or nothing
        await succeeded(tried)
        await _logged_in(user, ip=ip, method=method)
        return await start_session(settings, user, ip=ip, user_agent=user_agent)
