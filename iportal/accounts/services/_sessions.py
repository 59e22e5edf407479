"""Server-side sessions: opened at login, looked up on every request, ended at
logout or after a password change.

Sessions live in PostgreSQL so that any number of web processes share them; the
cookie carries a random id of 256 bits and the table only its keyed hash.

Kept over Litestar's double-submit cookie: each session's own CSRF token, read with the
session row every request already fetches (no extra statement), dies with the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from iportal import clock, db
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._throttle import attempt, bucket, succeeded
from iportal.accounts.services._users import UserRow
from iportal.accounts.tables import PortalUser, UserSession
from iportal.errors import InvalidInput
from iportal.i18n import N_
from iportal.security import keyed_hash, new_token, verify_password
from iportal.settings import Settings

SESSION_PURPOSE = "session"
# last_seen_at is written at most this often, not on every request.
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
WRONG_PASSWORD = N_("Your current password is not correct.")
# A live session and its user: not revoked, not past its lifetime ($2) nor idle since $3;
# with the open delivery problem of the user's address, which every page shows.
SESSION_USER_SQL = """
SELECT s.id, s.csrf_token, s.last_seen_at, u.id AS user_id, u.email,
       u.first_name, u.last_name, u.language,
       EXISTS (SELECT 1 FROM account_membership m JOIN account a ON a.id = m.account_id
                WHERE m.user_id = u.id AND m.role = 'main_contact' AND a.kind = 'b2b')
         AS can_share,
       coalesce((SELECT p.kind FROM delivery_problem p
                  WHERE p.email = u.email AND p.cleared_at IS NULL), '') AS email_problem
  FROM user_session s JOIN portal_user u ON u.id = s.user_id
 WHERE s.token_hash = $1 AND s.revoked_at IS NULL
   AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.locked_at IS NULL
"""


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
    # Main contact of a business account: the menu offers "Shared users".
    can_share: bool = False
    token_name: str = ""  # that token's name, for the audit of what it read
    # The kind of the open delivery problem of `email` (`refused`, `bounced`,
    # `expired`), empty when e-mail reaches the person; read with the session.
    email_problem: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


@dataclass(frozen=True)
class NewSession:
    cookie_value: str
    csrf_token: str
    user: SessionUser
    # Set after a login: the browser's new device cookie (see `_devices`).
    device_cookie: str = ""


async def check_current_password(
    user_id: int, password: str, *, session_id: int | None = None, ip: str = ""
) -> None:
    """For changes a logged-in person makes (password, TOTP removal): the password
    must be theirs. Throttled like logins, so a stolen session is no password oracle;
    in the session's own bucket, so that guesses at the login filling the account's
    bucket never stop the owner from changing the password."""
    user = await PortalUser.select(PortalUser.password_hash).where(PortalUser.id == user_id).first()
    own = (
        bucket("login", "session", session_id)
        if session_id is not None
        else bucket("login", "account", user_id)
    )
    tried = await attempt(own, bucket("login", "ip", ip))
    matches, _ = await verify_password(user["password_hash"] if user else None, password)
    if not matches:
        raise InvalidInput(WRONG_PASSWORD)
    await succeeded(tried)


def _session_hash(settings: Settings, cookie_value: str) -> str:
    return keyed_hash(settings.secret_key, cookie_value, purpose=SESSION_PURPOSE)


@dataclass(frozen=True)
class NewSessionRow:
    """What a new session's row holds, before it is written."""

    cookie_value: str
    token_hash: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


def new_session_row(settings: Settings) -> NewSessionRow:
    """A fresh random id (never one the browser brought: no fixation), kept only as
    its keyed hash, and the session's absolute lifetime."""
    now = clock.utcnow()
    cookie_value = new_token()
    return NewSessionRow(
        cookie_value=cookie_value,
        token_hash=_session_hash(settings, cookie_value),
        csrf_token=new_token(),
        created_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
    )


def opened_session(row: NewSessionRow, user: UserRow, session_id: int) -> NewSession:
    session_user = SessionUser(
        user_id=user.id,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        language=user.language,
        session_id=session_id,
        csrf_token=row.csrf_token,
    )
    return NewSession(cookie_value=row.cookie_value, csrf_token=row.csrf_token, user=session_user)


async def start_session(
    settings: Settings, user: UserRow, *, ip: str = "", user_agent: str = ""
) -> NewSession:
    """A new session for a user who just proved who they are (a login has its own,
    written together with its audit event)."""
    row = new_session_row(settings)
    rows = await UserSession.insert(
        UserSession(
            token_hash=row.token_hash,
            user=user.id,
            csrf_token=row.csrf_token,
            created_at=row.created_at,
            last_seen_at=row.created_at,
            expires_at=row.expires_at,
            ip=ip[:45],
            user_agent=user_agent[:300],
        )
    ).returning(UserSession.id)
    return opened_session(row, user, rows[0]["id"])


async def session_user(settings: Settings, cookie_value: str | None) -> SessionUser | None:
    """The user of a live session, or None when it is unknown, revoked or timed out
    (idle longer than the idle timeout, or older than the absolute lifetime)."""
    if not cookie_value:
        return None
    now = clock.utcnow()
    idle_limit = now - timedelta(minutes=settings.session_idle_minutes)
    row = await db.fetchrow(
        SESSION_USER_SQL, _session_hash(settings, cookie_value), now, idle_limit
    )
    if row is None:
        return None
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
        can_share=row["can_share"],
        email_problem=row["email_problem"],
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
