"""Choosing a new password: by a single-use e-mailed link when it is forgotten, or
from the profile when the person knows the current one.

Asking for a link answers the same, in the same time, whatever the address, so that
it never tells whether someone has an account: the request only leaves a row for the
worker (see `_reset_links`). A reset also unlocks a locked account and ends every
session; a change ends every other session. Both end the personal API tokens (a
token an intruder made must not outlive the password they used) and e-mail the
person that it happened.
"""

from __future__ import annotations

from iportal import clock, db
from iportal.accounts.passwords import check_password
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._reset_links import request_reset_link, reset_token_hash
from iportal.accounts.services._sessions import check_current_password, end_all_sessions
from iportal.accounts.services._throttle import attempt, bucket, succeeded
from iportal.accounts.services._tokens import end_personal_tokens
from iportal.accounts.tables import PasswordReset, PortalUser
from iportal.errors import Gone, InvalidInput
from iportal.i18n import N_
from iportal.notifications.services import queue_email
from iportal.security import hash_password
from iportal.settings import Settings

LINK_INVALID = N_(
    "This link is not valid any more: it was already used, or it has expired. "
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
# The new password, the failures forgotten and the lock lifted; who to tell, and
# whether there was a password before (an invited person chooses their first one).
REPLACED_SQL = """
WITH before AS (SELECT password_hash IS NOT NULL AS had FROM portal_user WHERE id = $1)
UPDATE portal_user SET password_hash = $2, failed_login_count = 0, locked_at = NULL
 WHERE id = $1
RETURNING email, first_name, language, (SELECT had FROM before) AS had_password
"""


async def request_password_reset(settings: Settings, email: str, *, ip: str = "") -> None:
    """Ask the worker to e-mail a link valid one hour to the user with this address, if
    there is one. Returns nothing, and does the same for every address: the caller
    answers alike, in the same time. Throttled per address and per e-mail address
    typed, so it cannot flood a mailbox."""
    address = email.strip().lower()
    await attempt(bucket("reset", "ip", ip), bucket("reset", "email", address))
    await request_reset_link(address, ip=ip)


async def _new_password(
    settings: Settings,
    user_id: int,
    new_hash: str,
    *,
    kind: str,
    ip: str,
    except_session_id: int | None = None,
) -> None:
    """Inside the caller's transaction: the new password set, sessions and tokens ended,
    the event recorded and the person told by e-mail."""
    user = await db.fetchrow(REPLACED_SQL, user_id, new_hash)
    ended = await end_all_sessions(user_id, except_session_id=except_session_id)
    tokens = await end_personal_tokens(user_id)
    await record_audit_event(
        kind, actor_id=user_id, ip=ip, detail={"sessions_ended": ended, "tokens_ended": tokens}
    )
    # "Your password was changed" is news only when there was one: not for a person
    # who has just chosen their first, through an invitation.
    if user is not None and user["had_password"]:
        base_url = settings.base_url.rstrip("/")
        await queue_email(
            "password_changed",
            user["email"],
            user["language"],
            {
                "first_name": user["first_name"],
                "tokens_ended": tokens,
                "tokens_url": f"{base_url}/me/tokens",
                "reset_url": f"{base_url}/password-reset",
                "base_url": settings.base_url,
            },
            user_id=user_id,
        )


async def reset_token_is_valid(settings: Settings, token: str) -> bool:
    """For the page that asks for the new password: is the link still good?"""
    row = (
        await PasswordReset.select(PasswordReset.id)
        .where(
            (PasswordReset.token_hash == reset_token_hash(settings, token or ""))
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
    conditional UPDATE, the account unlocked, every session, API token and pending
    link ended."""
    tried = await attempt(bucket("reset", "ip", ip))
    token_hash = reset_token_hash(settings, token or "")
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
        # Any other link sent before is void: the password they were for is gone.
        await PasswordReset.update({PasswordReset.used_at: now}).where(
            (PasswordReset.user == user_id) & PasswordReset.used_at.is_null()
        )
        await _new_password(settings, user_id, new_hash, kind="password_reset", ip=ip)
    await succeeded(tried)


async def change_password(
    settings: Settings,
    user_id: int,
    current_password: str,
    new_password: str,
    *,
    session_id: int | None = None,
    ip: str = "",
) -> None:
    """A logged-in person's new password: the current one must be right; every other
    session ends (this one stays), and every API token."""
    user = await PortalUser.select(PortalUser.email).where(PortalUser.id == user_id).first()
    await check_current_password(user_id, current_password, session_id=session_id, ip=ip)
    if new_password == current_password:
        raise InvalidInput(SAME_PASSWORD)
    check_password(new_password, email=user["email"] if user else None)
    new_hash = await hash_password(new_password)
    async with db.transaction():
        await _new_password(
            settings,
            user_id,
            new_hash,
            kind="password_changed",
            ip=ip,
            except_session_id=session_id,
        )
