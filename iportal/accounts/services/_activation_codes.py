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
from typing import Any

from iportal import clock
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services._client_numbers import UNKNOWN_CLIENT_NUMBER
from iportal.accounts.tables import ActivationCode, ClientNumber
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_
from iportal.security import keyed_hash, same
from iportal.settings import get_settings

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


@dataclass(frozen=True)
class IssuedCode:
    """A new code, in the clear: show it or send it now, it cannot be read back later."""

    code: str
    expires_at: datetime
    client_code: str


def new_activation_code() -> str:
    """`K7QM-3XHP-9RTA-WD2F`: random from `secrets`, grouped for reading aloud."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    groups = [symbols[i : i + GROUP_LENGTH] for i in range(0, CODE_LENGTH, GROUP_LENGTH)]
    return "-".join(groups)


def normalise_activation_code(raw: str) -> str:
    """`k7qm 3xhp-9rta wd2f` → `K7QM3XHP9RTAWD2F`: upper case, no spaces or dashes."""
    return _SEPARATORS.sub("", raw or "").upper()


def activation_code_hash(raw: str) -> str:
    return keyed_hash(
        get_settings().secret_key, normalise_activation_code(raw), purpose=HASH_PURPOSE
    )


async def issue_activation_code(
    client_number_id: int, *, communicated_at: datetime | None = None
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
        rows = await ActivationCode.raw(
            "INSERT INTO activation_code (client_number_id, code_hash, communicated_at, expires_at)"
            " VALUES ({}, {}, {}, {}) ON CONFLICT (code_hash) DO NOTHING RETURNING id",
            client_number_id,
            activation_code_hash(code),
            communicated_at,
            expires_at,
        )
        if rows:
            return IssuedCode(code, expires_at, str(number["client_code"]))
    raise RuntimeError("no unused activation code after several draws: check the generator")


async def client_number_by_code(
    raw_client_code: str, issuer_id: int | None = None
) -> dict[str, Any]:
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
    return dict(row)


async def issue_activation_code_for(
    raw_client_code: str,
    *,
    issuer_id: int | None = None,
    communicated_at: datetime | None = None,
) -> IssuedCode:
    """`issue_activation_code` by client code. With `issuer_id`, another issuer's number
    answers `NotFound`, exactly like one that does not exist."""
    number = await client_number_by_code(raw_client_code, issuer_id)
    return await issue_activation_code(int(number["id"]), communicated_at=communicated_at)


FIND_SQL = """
SELECT a.id, a.code_hash, a.client_number_id, a.communicated_at, a.expires_at,
       a.redeemed_at, a.redeemed_by_id, c.issuer_id, c.client_code, c.company_name,
       c.enterprise_number, c.email, c.account_id
  FROM activation_code a JOIN client_number c ON c.id = a.client_number_id
 WHERE a.code_hash = {}
"""


async def find_activation_code(raw: str) -> dict[str, Any] | None:
    """The code's row and its client number, whatever its expiry or redemption (the
    caller decides about those); None for a code that was never issued."""
    normalised = normalise_activation_code(raw)
    if not _WELL_FORMED.match(normalised):
        return None  # cannot be one of ours: spare the database
    wanted = activation_code_hash(normalised)
    rows = await ActivationCode.raw(FIND_SQL, wanted)
    if not rows or not same(rows[0]["code_hash"], wanted):
        return None
    found = dict(rows[0])
    del found["code_hash"]
    return found
