"""Issuer entities and the API keys their billing systems send as bearer tokens.

A key reads `ipk_<key id>_<secret>`: the key id finds the row, the secret's
SHA-256 is compared in constant time. 256 random bits need no stretching and no
pepper, so keys survive a change of the portal's secret key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from iportal import clock, db
from iportal.accounts.tables import IssuerApiKey
from iportal.columns import LANGUAGES
from iportal.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from iportal.i18n import N_
from iportal.security import same

KEY_PATTERN = re.compile(r"^ipk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
PREFIX_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")
LAST_USED_PRECISION = timedelta(minutes=1)
KEY_REQUIRED = N_("A valid issuer API key is required (Authorization: Bearer ipk_…).")
# Another issuer whose prefix starts this one, or that this one starts.
OVERLAPPING_PREFIX_SQL = """
SELECT prefix FROM issuer
 WHERE prefix <> $1 AND (starts_with($1, prefix) OR starts_with(prefix, $1))
 LIMIT 1
"""
NEW_ISSUER_SQL = """
INSERT INTO issuer (prefix, name, language) VALUES ($1, $2, $3)
ON CONFLICT (prefix) DO NOTHING RETURNING id
"""
ISSUER_BY_PREFIX_SQL = "SELECT id, prefix, name, language FROM issuer WHERE prefix = $1"
# A live key by its public id, with its issuer.
LIVE_KEY_SQL = """
SELECT k.key_hash, k.last_used_at, i.id, i.prefix, i.name, i.language
  FROM issuer_api_key k JOIN issuer i ON i.id = k.issuer_id
 WHERE k.key_id = $1 AND k.revoked_at IS NULL
"""


@dataclass(frozen=True)
class IssuerRow:
    """An issuer entity, known by the prefix of its client codes."""

    id: int
    prefix: str
    name: str
    language: str


@dataclass(frozen=True)
class IssuerPrincipal:
    """The issuer behind a request, as authenticated by one of its keys."""

    issuer_id: int
    prefix: str
    name: str
    language: str
    key_id: str


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _key_hash(plain_key: str) -> str:
    return hashlib.sha256(plain_key.encode()).hexdigest()


def normalise_prefix(raw: str) -> str:
    prefix = (raw or "").strip().upper()
    if not PREFIX_PATTERN.match(prefix):
        raise InvalidInput(
            N_("“%(value)s” is not a valid issuer prefix: 2 to 8 letters and digits, like DL2."),
            value=raw,
        )
    return prefix


async def create_issuer(prefix: str, name: str, language: str = "en") -> tuple[int, str]:
    """A new issuer entity and its first API key; the plain key is returned only here."""
    prefix = normalise_prefix(prefix)
    if not name.strip():
        raise InvalidInput(N_("The issuer needs a name."))
    if language not in LANGUAGES:
        raise InvalidInput(N_("The language must be one of nl, fr, en, de."))
    overlapping = await db.fetchval(OVERLAPPING_PREFIX_SQL, prefix)
    if overlapping is not None:
        # A client code must name exactly one issuer: DL2 and DL20 cannot both exist.
        raise Conflict(
            N_("The prefix %(prefix)s overlaps issuer prefix %(other)s."),
            prefix=prefix,
            other=overlapping,
        )
    issuer_id = await db.fetchval(NEW_ISSUER_SQL, prefix, name.strip(), language)
    if issuer_id is None:
        raise Conflict(N_("An issuer with prefix %(prefix)s already exists."), prefix=prefix)
    return int(issuer_id), await create_api_key(prefix, "first key")


async def issuer_by_prefix(prefix: str) -> IssuerRow:
    """The issuer with this prefix; `NotFound` otherwise."""
    row = await db.fetchrow(ISSUER_BY_PREFIX_SQL, normalise_prefix(prefix))
    if row is None:
        raise NotFound(N_("There is no issuer with prefix %(prefix)s."), prefix=prefix)
    return IssuerRow(**row)


async def create_api_key(prefix: str, name: str = "") -> str:
    """A new key for the issuer; the plain key is returned only here."""
    issuer = await issuer_by_prefix(prefix)
    key_id = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(12))
    plain_key = f"ipk_{key_id}_{secrets.token_urlsafe(32)}"
    await IssuerApiKey.insert(
        IssuerApiKey(
            issuer=issuer.id, key_id=key_id, key_hash=_key_hash(plain_key), name=name[:100]
        )
    )
    return plain_key


async def list_api_keys(prefix: str) -> list[ApiKeyInfo]:
    issuer = await issuer_by_prefix(prefix)
    rows = (
        await IssuerApiKey.select(
            IssuerApiKey.key_id,
            IssuerApiKey.name,
            IssuerApiKey.created_at,
            IssuerApiKey.last_used_at,
            IssuerApiKey.revoked_at,
        )
        .where(IssuerApiKey.issuer == issuer.id)
        .order_by(IssuerApiKey.created_at)
    )
    return [ApiKeyInfo(**row) for row in rows]


async def revoke_api_key(prefix: str, key_id: str) -> None:
    issuer = await issuer_by_prefix(prefix)
    rows = (
        await IssuerApiKey.update({IssuerApiKey.revoked_at: clock.utcnow()})
        .where(
            (IssuerApiKey.issuer == issuer.id)
            & (IssuerApiKey.key_id == key_id)
            & IssuerApiKey.revoked_at.is_null()
        )
        .returning(IssuerApiKey.id)
    )
    if not rows:
        raise NotFound(
            N_("Issuer %(prefix)s has no active key %(key_id)s."),
            prefix=issuer.prefix,
            key_id=key_id,
        )


async def authenticate_issuer(plain_key: str) -> IssuerPrincipal:
    """The issuer whose live key this is; `NotAuthenticated` for anything else."""
    match = KEY_PATTERN.match(plain_key.strip())
    if not match:
        raise NotAuthenticated(KEY_REQUIRED)
    row = await db.fetchrow(LIVE_KEY_SQL, match.group(1))
    if row is None or not same(row["key_hash"], _key_hash(plain_key.strip())):
        raise NotAuthenticated(KEY_REQUIRED)
    now = clock.utcnow()
    if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_PRECISION:
        await IssuerApiKey.update({IssuerApiKey.last_used_at: now}).where(
            IssuerApiKey.key_id == match.group(1)
        )
    return IssuerPrincipal(row["id"], row["prefix"], row["name"], row["language"], match.group(1))
