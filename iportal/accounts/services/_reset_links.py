"""Reset links, made by the worker: for a person who asked for one at /password-reset,
and for an owner told that someone is guessing their password.

Asking for a link only writes a `password_reset_request` row, the same for every
address, so that neither the answer nor its time tells whether an address has an
account. The worker (`iportal worker`, each round) claims the rows with
`FOR UPDATE SKIP LOCKED`, finds the account, if any, and queues the e-mail with a
single-use link valid one hour, all in one transaction per request.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from iportal import clock, db
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.tables import PasswordReset
from iportal.notifications.services import queue_email
from iportal.security import keyed_hash, new_token
from iportal.settings import Settings

RESET_PURPOSE = "password-reset"
RESET_LIFETIME = timedelta(hours=1)
TEMPLATES = {"asked": "password_reset", "throttled": "login_guessing", "locked": "login_guessing"}
# One request, claimed by one worker: the row goes with the transaction that answers it.
CLAIM_SQL = """
DELETE FROM password_reset_request
 WHERE id = (SELECT id FROM password_reset_request ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING email, reason, ip
"""
ADDRESSEE_SQL = "SELECT id, email, first_name, language FROM portal_user WHERE email = lower($1)"
REQUEST_SQL = """
INSERT INTO password_reset_request (email, reason, ip, requested_at) VALUES ($1, $2, $3, $4)
"""


def reset_token_hash(settings: Settings, token: str) -> str:
    return keyed_hash(settings.secret_key, token, purpose=RESET_PURPOSE)


def reset_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/password-reset/confirm?{urlencode({'token': token})}"


async def new_reset_link(
    settings: Settings, user_id: int, lifetime: timedelta = RESET_LIFETIME
) -> str:
    """A single-use link for this user to choose a password, made inside the caller's
    transaction: the same link and page as a reset, for a person invited without a
    password yet (`iportal.sharing`), valid `lifetime`."""
    token = new_token()
    now = clock.utcnow()
    await PasswordReset.insert(
        PasswordReset(
            user=user_id,
            token_hash=reset_token_hash(settings, token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return reset_link(settings, token)


async def request_reset_link(email: str, *, ip: str = "") -> None:
    """Leave a request for the worker: one statement, whatever the address."""
    await db.execute(REQUEST_SQL, email.strip().lower()[:254], "asked", ip[:45], clock.utcnow())


async def _answer_one(settings: Settings) -> bool:
    """Claim one request and, when its address has an account, make the link and queue
    the e-mail; False when there was none left."""
    async with db.transaction():
        request = await db.fetchrow(CLAIM_SQL)
        if request is None:
            return False
        user = await db.fetchrow(ADDRESSEE_SQL, request["email"])
        if user is None:
            return True
        token = new_token()
        now = clock.utcnow()
        await PasswordReset.insert(
            PasswordReset(
                user=user["id"],
                token_hash=reset_token_hash(settings, token),
                created_at=now,
                expires_at=now + RESET_LIFETIME,
            )
        )
        await queue_email(
            TEMPLATES[request["reason"]],
            user["email"],
            user["language"],
            {
                "first_name": user["first_name"],
                "link": reset_link(settings, token),
                "base_url": settings.base_url,
                "minutes": int(RESET_LIFETIME.total_seconds() // 60),
                "locked": request["reason"] == "locked",
            },
            user_id=user["id"],
        )
        if request["reason"] == "asked":
            await record_audit_event(
                "password_reset_requested", actor_id=user["id"], ip=request["ip"]
            )
    return True


async def send_password_reset_links(settings: Settings, limit: int = 50) -> int:
    """The worker's step: answer up to `limit` requests; returns how many."""
    answered = 0
    while answered < limit and await _answer_one(settings):
        answered += 1
    return answered
