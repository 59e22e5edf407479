"""Activation codes: what a client types from a paper letter or an e-mail to opt in.

The alphabet leaves out what people confuse (0/O, 1/I/L), the code is read in
groups of four, and only its keyed hash is stored: the plain code exists once,
in the answer to whoever issued it.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from iportal import clock, db
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services._client_numbers import UNKNOWN_CLIENT_NUMBER
from iportal.accounts.tables import ClientNumber
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_
from iportal.security import keyed_hash, same
from iportal.settings import Settings

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16
GROUP_LENGTH = 4
# 16 symbols of 31: about 79 bits, well beyond guessing even without throttling.
ENTROPY_BITS = CODE_LENGTH * math.log2(len(ALPHABET))
VALIDITY = timedelta(weeks=15)
HASH_PURPOSE = "activation-code"
# Spaces and dashes people type or copy from a PDF, including the typographic dashes.
_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014\u2212]+")
_WELL_FORMED = re.compile(f"^[{ALPHABET}]{{{CODE_LENGTH}}}$")
NO_SUCH_CLIENT_NUMBER = N_("There is no client number %(client_code)s.")
HASH_ATTEMPTS = 3

# A new code; nothing when its hash is taken (then another is drawn).
ISSUE_SQL = """
INSERT INTO activation_code (client_number_id, code_hash, communicated_at, expires_at)
VALUES ($1, $2, $3, $4) ON CONFLICT (code_hash) DO NOTHING RETURNING id
"""
# A code by its keyed hash, with its client number.
FIND_SQL = """
SELECT a.id, a.code_hash, a.client_number_id, a.communicated_at, a.expires_at,
       a.redeemed_at, a.redeemed_by_id, c.issuer_id, c.client_code, c.company_name,
       c.enterprise_number, c.email, c.account_id
  FROM activation_code a JOIN client_number c ON c.id = a.client_number_id
 WHERE a.code_hash = $1
"""


@dataclass(frozen=True)
class IssuedCode:
    """A new code, in the clear: show it or send it now, it cannot be read back later."""

    code: str
    expires_at: datetime
    client_code: str


@dataclass(frozen=True)
class ClientNumberRef:
    """A client number as an activation code names it."""

    id: int
    client_code: str


@dataclass(frozen=True)
class FoundActivationCode:
    """An issued code (never its hash) and its client number, whatever its expiry or
    redemption."""

    id: int
    client_number_id: int
    communicated_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    redeemed_by_id: int | None
    issuer_id: int
    client_code: str
    company_name: str
    enterprise_number: str | None
    email: str
    account_id: int | None


def new_activation_code() -> str:
    """`K7QM-3XHP-9RTA-WD2F`: random from `secrets`, grouped for reading aloud."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    groups = [symbols[i : i + GROUP_LENGTH] for i in range(0, CODE_LENGTH, GROUP_LENGTH)]
    return "-".join(groups)


def normalise_activation_code(raw: str) -> str:
    """`k7qm 3xhp-9rta wd2f` → `K7QM3XHP9RTAWD2F`: upper case, no spaces or dashes."""
    return _SEPARATORS.sub("", raw or "").upper()


def activation_code_hash(secret_key: str, raw: str) -> str:
    return keyed_hash(secret_key, normalise_activation_code(raw), purpose=HASH_PURPOSE)


async def issue_activation_code(
    settings: Settings, client_number_id: int, *, communicated_at: datetime | None = None
) -> IssuedCode:
    """A new code for one client number, valid 15 weeks from `communicated_at` (the
    letter's or e-mail's date; now by default). Only its hash is stored."""
    communicated_at = communicated_at or clock.utcnow()
    if communicated_at.tzinfo is None:
        raise ValueError("communicated_at must carry its time zone")
    # Whole seconds, so that the printed, returned and stored expiry are the same instant.
    expires_at = (communicated_at + VALIDITY).replace(microsecond=0)
    number = (
        await ClientNumber.select(ClientNumber.client_code)
        .where(ClientNumber.id == client_number_id)
        .first()
    )
    if number is None:
        raise NotFound(N_("There is no client number with id %(id)s."), id=client_number_id)
    for _ in range(HASH_ATTEMPTS):  # a repeated code is all but impossible; draw again
        code = new_activation_code()
        code_hash = activation_code_hash(settings.secret_key, code)
        issued = await db.fetchval(
            ISSUE_SQL, client_number_id, code_hash, communicated_at, expires_at
        )
        if issued is not None:
            return IssuedCode(code, expires_at, str(number["client_code"]))
    raise RuntimeError("no unused activation code after several draws: check the generator")


async def client_number_by_code(
    raw_client_code: str, issuer_id: int | None = None
) -> ClientNumberRef:
    """The client number with this code (of this issuer, when given); `NotFound` otherwise,
    also for what is not a client code at all."""
    unknown = UNKNOWN_CLIENT_NUMBER if issuer_id is not None else NO_SUCH_CLIENT_NUMBER
    try:
        code = normalise_client_code(raw_client_code)
    except InvalidInput:
        raise NotFound(unknown, client_code=(raw_client_code or "").strip()) from None
    query = ClientNumber.select(ClientNumber.id, ClientNumber.client_code).where(
        ClientNumber.client_code == code
    )
    if issuer_id is not None:
        query = query.where(ClientNumber.issuer == issuer_id)
    row = await query.first()
    if row is None:
        raise NotFound(unknown, client_code=code)
    return ClientNumberRef(**row)


async def issue_activation_code_for(
    settings: Settings,
    raw_client_code: str,
    *,
    issuer_id: int | None = None,
    communicated_at: datetime | None = None,
) -> IssuedCode:
    """`issue_activation_code` by client code. With `issuer_id`, another issuer's number
    answers `NotFound`, exactly like one that does not exist."""
    number = await client_number_by_code(raw_client_code, issuer_id)
    return await issue_activation_code(settings, number.id, communicated_at=communicated_at)


async def find_activation_code(settings: Settings, raw: str) -> FoundActivationCode | None:
    """The code's row and its client number, whatever its expiry or redemption (the
    caller decides about those); None for a code that was never issued."""
    normalised = normalise_activation_code(raw)
    if not _WELL_FORMED.match(normalised):
        return None  # cannot be one of ours: spare the database
    wanted = activation_code_hash(settings.secret_key, normalised)
    row = await db.fetchrow(FIND_SQL, wanted)
    if row is None or not same(row["code_hash"], wanted):
        return None
    found = dict(row)
    del found["code_hash"]
    return FoundActivationCode(**found)
