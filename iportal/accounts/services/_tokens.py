"""Personal API tokens: named, read-only, revocable credentials for a user's scripts
and accounting software.

A token reads `ipt_<token id>_<secret>`, like the issuers' keys: the token id
finds the row, the SHA-256 of the whole token is compared in constant time, and
only that hash is stored. The plain token is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from iportal import clock, db
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._sessions import SessionUser
from iportal.accounts.tables import PersonalToken
from iportal.errors import InvalidInput, NotAuthenticated, NotFound
from iportal.i18n import N_
from iportal.security import same

TOKEN_PREFIX = "ipt_"  # noqa: S105 - the public prefix, not a secret
TOKEN_PATTERN = re.compile(r"^ipt_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_NAME_LENGTH = 100
MAX_TOKENS = 50
TOKEN_INVALID = N_("This API token is not valid, or it was revoked.")
NAME_NEEDED = N_("Give the token a name, so that you recognise it later (at most 100 characters).")
TOO_MANY = N_("You have %(max)s API tokens already. Revoke one you no longer use first.")
NO_SUCH_TOKEN = N_("You have no API token with this id.")
# Only the owner's live token: another user's, or one already revoked, changes nothing.
REVOKE_SQL = """
UPDATE personal_token SET revoked_at = $1
 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL RETURNING name
"""
# A live token by its public id, with its user (whose account must not be locked).
AUTHENTICATE_SQL = """
SELECT t.id AS token_id, t.name AS token_name, t.token_hash, t.last_used_at,
       u.id AS user_id, u.email, u.first_name, u.last_name, u.language
  FROM personal_token t JOIN portal_user u ON u.id = t.user_id
 WHERE t.token_id = $1 AND t.revoked_at IS NULL AND u.locked_at IS NULL
"""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewPersonalToken:
    id: int
    name: str
    token: str
    created_at: datetime


def _token_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


async def create_personal_token(user_id: int, name: str, *, ip: str = "") -> NewPersonalToken:
    """A new read-only token; the plain token is returned only here."""
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(NAME_NEEDED)
    live = await PersonalToken.count().where(
        (PersonalToken.user == user_id) & PersonalToken.revoked_at.is_null()
    )
    if live >= MAX_TOKENS:
        raise InvalidInput(TOO_MANY, max=MAX_TOKENS)
    token_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    plain = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    rows = await PersonalToken.insert(
        PersonalToken(user=user_id, name=name, token_id=token_id, token_hash=_token_hash(plain))
    ).returning(PersonalToken.id, PersonalToken.created_at)
    await record_audit_event("token_created", actor_id=user_id, ip=ip, detail={"name": name})
    return NewPersonalToken(rows[0]["id"], name, plain, rows[0]["created_at"])


async def list_personal_tokens(user_id: int) -> list[TokenInfo]:
    """The user's live tokens, newest first; never the tokens themselves."""
    rows = (
        await PersonalToken.select(
            PersonalToken.id,
            PersonalToken.name,
            PersonalToken.created_at,
            PersonalToken.last_used_at,
        )
        .where((PersonalToken.user == user_id) & PersonalToken.revoked_at.is_null())
        .order_by(PersonalToken.id, ascending=False)
    )
    return [TokenInfo(**row) for row in rows]


async def revoke_personal_token(user_id: int, token_id: int, *, ip: str = "") -> None:
    """Revoked at once; another user's token, or one already revoked, is `NotFound`."""
    name = await db.fetchval(REVOKE_SQL, clock.utcnow(), token_id, user_id)
    if name is None:
        raise NotFound(NO_SUCH_TOKEN)
    await record_audit_event("token_revoked", actor_id=user_id, ip=ip, detail={"name": name})


async def end_personal_tokens(user_id: int) -> int:
    """Revoke every live token of a user (after a password reset or change: a token an
    intruder made must not outlive the password they used). Returns how many."""
    rows = (
        await PersonalToken.update({PersonalToken.revoked_at: clock.utcnow()})
        .where((PersonalToken.user == user_id) & PersonalToken.revoked_at.is_null())
        .returning(PersonalToken.id)
    )
    return len(rows)


def is_personal_token(plain: str) -> bool:
    return plain.startswith(TOKEN_PREFIX)


async def authenticate_personal_token(plain: str) -> SessionUser:
    """The user whose live token this is, as the web layer knows a user; their
    account must not be locked. `NotAuthenticated` for anything else."""
    match = TOKEN_PATTERN.match(plain.strip())
    if not match:
        raise NotAuthenticated(TOKEN_INVALID)
    row = await db.fetchrow(AUTHENTICATE_SQL, match.group(1))
    if row is None or not same(row["token_hash"], _token_hash(plain.strip())):
        raise NotAuthenticated(TOKEN_INVALID)
    now = clock.utcnow()
    if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_PRECISION:
        await PersonalToken.update({PersonalToken.last_used_at: now}).where(
            PersonalToken.id == row["token_id"]
        )
    return SessionUser(
        user_id=row["user_id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        language=row["language"],
        session_id=0,
        csrf_token="",
        token_id=row["token_id"],
        token_name=row["token_name"],
    )
