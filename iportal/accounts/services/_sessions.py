"""Accounts: who a login names, password checks, server-side sessions, audit events.

Sessions live in PostgreSQL so that any number of web processes share them; the
cookie carries a random id of 256 bits and the table only its keyed hash.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from iportal import clock
from iportal.accounts.identifiers import looks_like_enterprise_number, normalise_enterprise_number
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.tables import PortalUser, UserSession
from iportal.errors import InvalidInput, NotAuthenticated
from iportal.i18n import N_
from iportal.security import hash_password, keyed_hash, new_token, verify_password
from iportal.settings import Settings

log = logging.getLogger(__name__)

SESSION_PURPOSE = "session"
# last_seen_at is written at most this often, not on every request.
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
LOGIN_FAILED = N_("The username or password is not correct.")


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

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


@dataclass(frozen=True)
class NewSession:
    cookie_value: str
    csrf_token: str
    user: SessionUser


async def find_user_for_login(username: str) -> dict[str, Any] | None:
    """The user a login names: an account login (enterprise number, e-mail, identifier)
    leads to the account's main contact; otherwise the user with that e-mail."""
    login = username.strip()
    if looks_like_enterprise_number(login):
        with contextlib.suppress(InvalidInput):  # a mistyped number simply finds nobody
            login = normalise_enterprise_number(login)
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


async def authenticate(username: str, password: str, *, ip: str = "") -> dict[str, Any]:
    """The user whose login and password these are; every failure is the same error
    and costs the same time (one argon2 verification either way)."""
    user = await find_user_for_login(username) if username.strip() else None
    matches, needs_rehash = await verify_password(user["password_hash"] if user else None, password)
    if user is None or not matches or user["locked_at"] is not None:
        if user is not None:
            await PortalUser.update(
                {PortalUser.failed_login_count: PortalUser.failed_login_count + 1}
            ).where(PortalUser.id == user["id"])
            await record_audit_event("login_failed", actor_id=user["id"], ip=ip)
        raise NotAuthenticated(LOGIN_FAILED)
    changes: dict[Any, Any] = {PortalUser.failed_login_count: 0}
    if needs_rehash:
        changes[PortalUser.password_hash] = await hash_password(password)
    await PortalUser.update(changes).where(PortalUser.id == user["id"])
    await record_audit_event("login_succeeded", actor_id=user["id"], ip=ip)
    return user


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
