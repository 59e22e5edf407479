"""Client numbers as the issuer declares them: created or updated in one go, with the
buyer references (aliases) its e-invoices use, and found again from such a reference.

A client code belongs to the issuer whose prefix it starts with; a code of another
prefix answers `NotFound`, exactly like one that does not exist, so an issuer never
learns anything about another issuer's clients. The fields are checked by
`_client_number_fields`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from asyncpg.exceptions import UniqueViolationError

from iportal import clock, db
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services._client_number_fields import (
    ClientNumberFields,
    ClientNumberInput,
    InvalidFields,
    check_client_number,
)
from iportal.accounts.services._issuers import IssuerPrincipal
from iportal.accounts.tables import Issuer
from iportal.errors import Conflict, InvalidInput, NotFound
from iportal.i18n import N_

CREATED = "created"
UPDATED = "updated"
UNKNOWN_CLIENT_NUMBER = N_("There is no client number %(client_code)s for this issuer.")

# An alias ($2) another client number of the issuer already has.
ALIAS_TAKEN_SQL = """
SELECT a.reference, c.client_code
  FROM client_number_alias a JOIN client_number c ON c.id = a.client_number_id
 WHERE a.issuer_id = $1 AND a.reference = ANY($2::text[]) AND c.client_code <> $3
 ORDER BY a.reference LIMIT 1
"""
# Another client number whose code is one of the aliases ($2), which it would hide.
ALIAS_SHADOWS_SQL = """
SELECT client_code FROM client_number
 WHERE issuer_id = $1 AND client_code = ANY($2::text[]) AND client_code <> $3
 ORDER BY client_code LIMIT 1
"""
# Another client number with an alias that reads as this code.
CODE_IS_ALIAS_SQL = r"""
SELECT c.client_code
  FROM client_number_alias a JOIN client_number c ON c.id = a.client_number_id
 WHERE a.issuer_id = $1 AND c.client_code <> $2
   AND upper(regexp_replace(a.reference, '[\s./_-]+', '', 'g')) = $2
 LIMIT 1
"""
# Created, or updated when it is this issuer's ($10: now); no row when another issuer has it.
UPSERT_SQL = """
INSERT INTO client_number (issuer_id, client_code, company_name, enterprise_number, email,
                           first_name, last_name, language, contract_start)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (client_code) DO UPDATE
   SET company_name = EXCLUDED.company_name,
       enterprise_number = EXCLUDED.enterprise_number,
       email = EXCLUDED.email,
       first_name = EXCLUDED.first_name,
       last_name = EXCLUDED.last_name,
       language = EXCLUDED.language,
       contract_start = EXCLUDED.contract_start,
       updated_at = $10
 WHERE client_number.issuer_id = EXCLUDED.issuer_id
RETURNING id, (xmax = 0) AS inserted
"""
DROP_ALIASES_SQL = "DELETE FROM client_number_alias WHERE client_number_id = $1"
ADD_ALIASES_SQL = """
INSERT INTO client_number_alias (issuer_id, client_number_id, reference)
SELECT $1, $2, unnest($3::text[])
"""
# The issuer's number for a reference: its code ($2) first, else an alias equal to $3.
RESOLVE_SQL = """
SELECT c.id, c.issuer_id, c.client_code, c.company_name, c.enterprise_number, c.email,
       c.first_name, c.last_name, c.language, c.contract_start, c.delivery_channel,
       c.account_id, c.notifications_enabled
  FROM client_number c
 WHERE c.issuer_id = $1 AND (c.client_code = $2 OR c.id IN (
       SELECT a.client_number_id FROM client_number_alias a
        WHERE a.issuer_id = $1 AND a.reference = $3))
 ORDER BY c.client_code = $2 DESC
 LIMIT 1
"""
# The longest prefix the code starts with, should prefixes nest.
ISSUER_OF_CODE_SQL = """
SELECT id FROM issuer WHERE starts_with($1, prefix) ORDER BY length(prefix) DESC LIMIT 1
"""


@dataclass(frozen=True)
class ClientNumberRow:
    """A client number as the issuer declared it, and whether it is in an account."""

    id: int
    issuer_id: int
    client_code: str
    company_name: str
    enterprise_number: str | None
    email: str
    first_name: str
    last_name: str
    language: str
    contract_start: date
    delivery_channel: str
    account_id: int | None
    notifications_enabled: bool


def client_code_of(prefix: str, raw_client_code: str) -> str:
    """The normalised code, if it is one of this prefix's; `NotFound` for any other prefix."""
    try:
        code = normalise_client_code(raw_client_code)
    except InvalidInput as error:
        raise InvalidFields([("client_code", error)]) from None
    if not code.startswith(prefix):
        raise NotFound(UNKNOWN_CLIENT_NUMBER, client_code=code)
    if code == prefix:
        message = N_("“%(value)s” has no client number after the prefix %(prefix)s.")
        no_number = InvalidInput(message, value=raw_client_code, prefix=prefix)
        raise InvalidFields([("client_code", no_number)])
    return code


async def _principal(issuer: IssuerPrincipal | int) -> tuple[int, str]:
    if isinstance(issuer, IssuerPrincipal):
        return issuer.issuer_id, issuer.prefix
    row = await Issuer.select(Issuer.prefix).where(Issuer.id == issuer).first()
    if row is None:
        raise NotFound(N_("There is no issuer with id %(id)s."), id=issuer)
    return issuer, str(row["prefix"])


async def _check_aliases(issuer_id: int, client_code: str, aliases: tuple[str, ...]) -> None:
    """An alias names one client number of the issuer, and no code may hide behind another
    number's alias: so a buyer reference always resolves to one client number."""
    taken = await db.fetchrow(ALIAS_TAKEN_SQL, issuer_id, list(aliases), client_code)
    if taken is not None:
        raise Conflict(
            N_("The alias “%(alias)s” is already used by client number %(client_code)s."),
            alias=taken["reference"],
            client_code=taken["client_code"],
        )
    codes = {code: alias for alias in aliases if (code := _code_or_none(alias))}
    if not codes:
        return
    shadowed = await db.fetchval(ALIAS_SHADOWS_SQL, issuer_id, list(codes), client_code)
    if shadowed is not None:
        raise Conflict(
            N_("The alias “%(alias)s” would match client number %(client_code)s."),
            alias=codes[shadowed],
            client_code=shadowed,
        )


async def _check_code_is_no_alias(issuer_id: int, client_code: str) -> None:
    other = await db.fetchval(CODE_IS_ALIAS_SQL, issuer_id, client_code)
    if other is not None:
        raise Conflict(
            N_("Client code %(client_code)s is already an alias of client number %(other)s."),
            client_code=client_code,
            other=other,
        )


def _code_or_none(reference: str) -> str | None:
    try:
        return normalise_client_code(reference)
    except InvalidInput:
        return None


async def _write(issuer_id: int, client_code: str, fields: ClientNumberFields) -> tuple[str, int]:
    written = await db.fetchrow(
        UPSERT_SQL,
        issuer_id,
        client_code,
        fields.company_name,
        fields.enterprise_number,
        fields.email,
        fields.first_name,
        fields.last_name,
        fields.language,
        fields.contract_start,
        clock.utcnow(),
    )
    if written is None:  # the code exists, but under another issuer whose prefix also matches
        raise NotFound(UNKNOWN_CLIENT_NUMBER, client_code=client_code)
    client_number_id = int(written["id"])
    if fields.aliases is not None:
        async with db.connection() as connection:
            await connection.execute(DROP_ALIASES_SQL, client_number_id)
            await connection.execute(
                ADD_ALIASES_SQL, issuer_id, client_number_id, list(fields.aliases)
            )
    return (CREATED if written["inserted"] else UPDATED), client_number_id


async def upsert_client_number(
    issuer: IssuerPrincipal | int, raw_client_code: str, data: ClientNumberInput
) -> tuple[str, int]:
    """Create or update one client number of `issuer` with its aliases, all or nothing.

    Returns ("created" or "updated", id). Raises `InvalidFields` (naming the fields),
    `NotFound` for a code of another prefix, `Conflict` for an alias already in use.
    """
    issuer_id, prefix = await _principal(issuer)
    client_code = client_code_of(prefix, raw_client_code)
    fields = check_client_number(data)
    try:
        async with db.transaction():
            await _check_code_is_no_alias(issuer_id, client_code)
            if fields.aliases:
                await _check_aliases(issuer_id, client_code, fields.aliases)
            return await _write(issuer_id, client_code, fields)
    except UniqueViolationError:  # a concurrent change took the same alias first
        raise Conflict(
            N_("Client number %(client_code)s was changed at the same time; please try again."),
            client_code=client_code,
        ) from None


async def resolve_client_number(issuer_id: int, reference: str) -> ClientNumberRow | None:
    """The issuer's client number for a buyer reference: its client code (normalised)
    first, else an alias equal to the stripped reference; never a company name."""
    stripped = (reference or "").strip()
    if not stripped:
        return None
    code = _code_or_none(stripped) or ""
    row = await db.fetchrow(RESOLVE_SQL, issuer_id, code, stripped)
    return ClientNumberRow(**row) if row else None


async def issuer_for_client_code(raw_client_code: str) -> int:
    """The issuer whose prefix the code starts with (the longest, should prefixes nest)."""
    code = _code_or_none(raw_client_code) or ""
    issuer_id = await db.fetchval(ISSUER_OF_CODE_SQL, code)
    if issuer_id is None:
        raise NotFound(
            N_("No issuer has the prefix of client code %(client_code)s."), client_code=code
        )
    return int(issuer_id)
