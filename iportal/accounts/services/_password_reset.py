"""Choosing a new password: by a single-use e-mailed link when it is forgotten, or
from the profile when the person knows the current one.

Asking for a link answers the same whatever the address, so that it never tells
whether someone has an account. A reset also unlocks a locked account and ends
every session; a change ends every other session.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from iportal import clock, db
from iportal.accounts.passwords import check_password
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._sessions import check_current_password, end_all_sessions
from iportal.accounts.services._throttle import attempt, bucket, succeeded
from iportal.accounts.tables import PasswordReset, PortalUser
from iportal.errors import Gone, InvalidInput
from iportal.i18n import N_
from iportal.notifications.services import queue_email
from iportal.security import hash_password, keyed_hash, new_token
from iportal.settings import Settings

RESET_PURPOSE = "password-reset"
RESET_LIFETIME = timedelta(hours=1)
LINK_INVALID = N_(
    "This link is not valid any more: it was already used or is older than one hour. "
    "Ask for a new one."
)
SAME_PASSWORD = N_("Choose a password different from the current one.")
# The address of the user a live link is for (to refuse a password built from it).
LINK_EMAIL_SQL = """
SELECT u.email FROM password_reset r JOIN portal_user u ON u.id = r.user_id
 WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2
"""
# The link used up, once: of two requests with the same token, one wins.
LINK_USED_SQL = """
UPDATE password_reset SET used_at = $1
 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id
"""


def _token_hash(settings: Settings, token: str) -> str:
    return keyed_hash(settings.secret_key, token, purpose=RESET_PURPOSE)


def reset_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/password-reset/confirm?{urlencode({'token': token})}"


async def request_password_reset(settings: Settings, email: str, *, ip: str = "") -> None:
    """E-mail a link valid one hour to the user with this address, if there is one.

    Returns nothing either way: the caller answers the same for every address.
    Throttled per address and per e-mail address typed, so it cannot flood a mailbox.
    """
    address = email.strip().lower()
    await attempt(bucket("reset", "ip", ip), bucket("reset", "email", address))
    user = (
        await PortalUser.select(
            PortalUser.id, PortalUser.email, PortalUser.first_name, PortalUser.language
        )
        .where(PortalUser.email == address)
        .first()
    )
    if user is None:
        return
    token = new_token()
    now = clock.utcnow()
    async with db.transaction():
        await PasswordReset.insert(
            PasswordReset(
                user=user["id"],
                token_hash=_token_hash(settings, token),
                created_at=now,
                expires_at=now + RESET_LIFETIME,
            )
        )
        await queue_email(
            "password_reset",
            user["email"],
            user["language"],
            {
                "first_name": user["first_name"],
                "link": reset_link(settings, token),
                "base_url": settings.base_url,
                "minutes": int(RESET_LIFETIME.total_seconds() // 60),
            },
            user_id=user["id"],
        )
        await record_audit_event("password_reset_requested", actor_id=user["id"], ip=ip)


async def reset_token_is_valid(settings: Settings, token: str) -> bool:
    """For the page that asks for the new password: is the link still good?"""
    row = (
        await PasswordReset.select(PasswordReset.id)
        .where(
            (PasswordReset.token_hash == _token_hash(settings, token or ""))
            & PasswordReset.used_at.is_null()
            & (PasswordReset.expires_at > clock.utcnow())
        )
        .first()
    )
    return row is not None


async def confirm_password_reset(
    settings: Settings, token: str, password: str, *, ip: str = ""
) -> None:
    """Set the new password with a link's token, once: the token is consumed by one
    conditional UPDATE, the account unlocked, every session and pending link ended."""
    tried = await attempt(bucket("reset", "ip", ip))
    token_hash = _token_hash(settings, token or "")
    email = await db.fetchval(LINK_EMAIL_SQL, token_hash, clock.utcnow())
    if email is None:
        raise Gone(LINK_INVALID)
    check_password(password, email=email)  # a refused password keeps the link
    new_hash = await hash_password(password)
    async with db.transaction():
        now = clock.utcnow()
        user_id = await db.fetchval(LINK_USED_SQL, now, token_hash)
        if user_id is None:
            raise Gone(LINK_INVALID)
        await PortalUser.update(
            {
                PortalUser.password_hash: new_hash,
                PortalUser.failed_login_count: 0,
                PortalUser.locked_at: None,
            }
        ).where(PortalUser.id == user_id)
        # Any other link sent before is void: the password they were for is gone.
        await PasswordReset.update({PasswordReset.used_at: now}).where(
            (PasswordReset.user == user_id) & PasswordReset.used_at.is_null()
        )
        ended = await end_all_sessions(user_id)
        await record_audit_event(
            "password_reset", actor_id=user_id, ip=ip, detail={"sessions_ended": ended}
        )
    await succeeded(tried)


async def change_password(
    user_id: int,
    current_password: str,
    new_password: str,
    *,
    session_id: int | None = None,
    ip: str = "",
) -> None:
    """A logged-in person's new password: the current one must be right; every other
    session ends (this one stays)."""
    user = await PortalUser.select(PortalUser.email).where(PortalUser.id == user_id).first()
    await check_current_password(user_id, current_password, ip=ip)
    if new_password == current_password:
        raise InvalidInput(SAME_PASSWORD)
    check_password(new_password, email=user["email"] if user else None)
    new_hash = await hash_password(new_password)
    async with db.transaction():
        await PortalUser.update(
            {PortalUser.password_hash: new_hash, PortalUser.failed_login_count: 0}
        ).where(PortalUser.id == user_id)
        ended = await end_all_sessions(user_id, except_session_id=session_id)
        await record_audit_event(
            "password_changed", actor_id=user_id, ip=ip, detail={"sessions_ended": ended}
        )
