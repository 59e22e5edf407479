"""Client numbers as the issuer declares them: created or updated in one go, with the
buyer references (aliases) its e-invoices use, and found again from such a reference.

A client code belongs to the issuer whose prefix it starts with; a code of another
prefix answers `NotFound`, exactly like one that does not exist, so an issuer never
learns anything about another issuer's clients.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from iportal import clock, db
from iportal.accounts.identifiers import normalise_client_code, normalise_enterprise_number
from iportal.accounts.services._issuers import IssuerPrincipal
from iportal.accounts.tables import ClientNumber, Issuer
from iportal.columns import LANGUAGES
from iportal.errors import Conflict, DomainError, InvalidInput, NotFound
from iportal.i18n import N_

CREATED = "created"
UPDATED = "updated"
# Contracts may predate the portal (May 2008 only limits which documents are shown);
# an earlier date than Excel's first one is a typo, not a client.
EARLIEST_CONTRACT_START = date(1900, 1, 1)
MAX_LENGTHS = {"company_name": 200, "first_name": 100, "last_name": 100, "email": 254}
MAX_ALIAS_LENGTH = 200
_EMAIL = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
# Control characters have no place in a name or reference (PostgreSQL refuses NUL).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_CHARACTERS = N_("Control characters are not allowed here.")
UNKNOWN_CLIENT_NUMBER = N_("There is no client number %(client_code)s for this issuer.")


@dataclass(frozen=True)
class ClientNumberInput:
    """What the issuer declares, as typed: the service normalises and checks every field.

    `aliases=None` leaves the stored aliases as they are; a list, even empty, replaces them.
    """

    company_name: str
    email: str
    first_name: str
    last_name: str
    language: str
    contract_start: date | str
    enterprise_number: str | None = None
    aliases: Sequence[str] | None = None


@dataclass(frozen=True)
class ClientNumberFields:
    """A `ClientNumberInput` that passed every check, in its stored form."""

    company_name: str
    email: str
    first_name: str
    last_name: str
    language: str
    contract_start: date
    enterprise_number: str | None
    aliases: tuple[str, ...] | None


class InvalidFields(InvalidInput):
    """Bad input in one or more fields; the message names each field, then what is wrong."""

    def __init__(self, problems: list[tuple[str, DomainError]]) -> None:
        self.problems = problems
        super().__init__(problems[0][1].message, **problems[0][1].params)
        self.args = (self._joined([(field, str(error)) for field, error in problems]),)

    def translated(self) -> str:
        return self._joined([(field, error.translated()) for field, error in self.problems])

    @staticmethod
    def _joined(parts: list[tuple[str, str]]) -> str:
        """`email: … address; language: … de.`: one sentence, whatever the count."""
        return "; ".join(f"{field}: {text.rstrip('.')}" for field, text in parts) + "."


class _Checker:
    """Collects the problems of every field, so that one answer lists them all."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, DomainError]] = []

    @contextmanager
    def field(self, name: str) -> Iterator[None]:
        try:
            yield
        except InvalidInput as error:
            self.problems.append((name, error))

    def raise_problems(self) -> None:
        if self.problems:
            raise InvalidFields(self.problems)


def _text(value: str | None, max_length: int) -> str:
    text = " ".join((value or "").split())  # also folds tabs and line breaks from spreadsheets
    if _CONTROL.search(text):
        raise InvalidInput(CONTROL_CHARACTERS)
    if not text:
        raise InvalidInput(N_("This field is required."))
    if len(text) > max_length:
        raise InvalidInput(N_("At most %(max)s characters, please."), max=max_length)
    return text


def _email(value: str | None) -> str:
    email = (value or "").strip().lower()
    if not email:
        raise InvalidInput(N_("This field is required."))
    if len(email) > MAX_LENGTHS["email"] or not _EMAIL.match(email):
        raise InvalidInput(N_("“%(value)s” is not a valid e-mail address."), value=value)
    return email


def _language(value: str | None) -> str:
    language = (value or "").strip().lower()
    if language not in LANGUAGES:
        raise InvalidInput(N_("The language must be one of nl, fr, en, de."))
    return language


def _contract_start(value: date | str | None) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = (value or "").strip()
        if not text:
            raise InvalidInput(N_("This field is required."))
        try:
            value = date.fromisoformat(text)
        except ValueError:
            try:  # ISO text with a time, as some spreadsheets write dates
                value = datetime.fromisoformat(text).date()
            except ValueError:
                raise InvalidInput(
                    N_("“%(value)s” is not a date (YYYY-MM-DD, like 2024-01-31)."),
                    value=text,
                ) from None
    if value > clock.today():
        raise InvalidInput(N_("The contract cannot start in the future."))
    if value < EARLIEST_CONTRACT_START:
        raise InvalidInput(
            N_("The contract cannot start before %(date)s."),
            date=EARLIEST_CONTRACT_START.isoformat(),
        )
    return value


def _aliases(values: Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):  # one alias given where a list was expected
        values = [values]
    aliases: dict[str, None] = {}  # ordered and without repeats
    for value in values:
        alias = (value or "").strip() if isinstance(value, str) else ""
        if not alias:
            raise InvalidInput(N_("An alias cannot be empty."))
        if _CONTROL.search(alias):
            raise InvalidInput(CONTROL_CHARACTERS)
        if len(alias) > MAX_ALIAS_LENGTH:
            raise InvalidInput(
                N_("The alias “%(alias)s…” is too long: at most %(max)s characters."),
                alias=alias[:40],
                max=MAX_ALIAS_LENGTH,
            )
        aliases[alias] = None
    return tuple(aliases)


def check_client_number(data: ClientNumberInput) -> ClientNumberFields:
    """Every field normalised and checked; `InvalidFields` names all the bad ones."""
    check = _Checker()
    values: dict[str, Any] = {}
    for name in ("company_name", "first_name", "last_name"):
        with check.field(name):
            values[name] = _text(getattr(data, name), MAX_LENGTHS[name])
    with check.field("enterprise_number"):
        raw_number = (data.enterprise_number or "").strip()
        values["enterprise_number"] = (
            normalise_enterprise_number(raw_number) if raw_number else None
        )
    with check.field("email"):
        values["email"] = _email(data.email)
    with check.field("language"):
        values["language"] = _language(data.language)
    with check.field("contract_start"):
        values["contract_start"] = _contract_start(data.contract_start)
    with check.field("aliases"):
        values["aliases"] = _aliases(data.aliases)
    check.raise_problems()
    return ClientNumberFields(**values)


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
    taken = await ClientNumber.raw(
        """
        SELECT a.reference, c.client_code
          FROM client_number_alias a JOIN client_number c ON c.id = a.client_number_id
         WHERE a.issuer_id = {} AND a.reference = ANY({}::text[]) AND c.client_code <> {}
         ORDER BY a.reference LIMIT 1
        """,
        issuer_id,
        list(aliases),
        client_code,
    )
    if taken:
        raise Conflict(
            N_("The alias “%(alias)s” is already used by client number %(client_code)s."),
            alias=taken[0]["reference"],
            client_code=taken[0]["client_code"],
        )
    codes = {code: alias for alias in aliases if (code := _code_or_none(alias))}
    if not codes:
        return
    shadowed = await ClientNumber.raw(
        "SELECT client_code FROM client_number WHERE issuer_id = {} "
        "AND client_code = ANY({}::text[]) AND client_code <> {} ORDER BY client_code LIMIT 1",
        issuer_id,
        list(codes),
        client_code,
    )
    if shadowed:
        raise Conflict(
            N_("The alias “%(alias)s” would match client number %(client_code)s."),
            alias=codes[shadowed[0]["client_code"]],
            client_code=shadowed[0]["client_code"],
        )


async def _check_code_is_no_alias(issuer_id: int, client_code: str) -> None:
    rows = await ClientNumber.raw(
        r"""
        SELECT c.client_code
          FROM client_number_alias a JOIN client_number c ON c.id = a.client_number_id
         WHERE a.issuer_id = {} AND c.client_code <> {}
           AND upper(regexp_replace(a.reference, '[\s./_-]+', '', 'g')) = {}
         LIMIT 1
        """,
        issuer_id,
        client_code,
        client_code,
    )
    if rows:
        raise Conflict(
            N_("Client code %(client_code)s is already an alias of client number %(other)s."),
            client_code=client_code,
            other=rows[0]["client_code"],
        )


def _code_or_none(reference: str) -> str | None:
    try:
        return normalise_client_code(reference)
    except InvalidInput:
        return None


async def _write(issuer_id: int, client_code: str, fields: ClientNumberFields) -> tuple[str, int]:
    rows = await ClientNumber.raw(
        """
        INSERT INTO client_number (issuer_id, client_code, company_name, enterprise_number, email,
                                   first_name, last_name, language, contract_start)
        VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})
        ON CONFLICT (client_code) DO UPDATE
           SET company_name = EXCLUDED.company_name,
               enterprise_number = EXCLUDED.enterprise_number,
               email = EXCLUDED.email,
               first_name = EXCLUDED.first_name,
               last_name = EXCLUDED.last_name,
               language = EXCLUDED.language,
               contract_start = EXCLUDED.contract_start,
               updated_at = {}
         WHERE client_number.issuer_id = EXCLUDED.issuer_id
        RETURNING id, (xmax = 0) AS inserted
        """,
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
    if not rows:  # the code exists, but under another issuer whose prefix also matches
        raise NotFound(UNKNOWN_CLIENT_NUMBER, client_code=client_code)
    client_number_id = int(rows[0]["id"])
    if fields.aliases is not None:
        await ClientNumber.raw(
            "DELETE FROM client_number_alias WHERE client_number_id = {}", client_number_id
        )
        await ClientNumber.raw(
            "INSERT INTO client_number_alias (issuer_id, client_number_id, reference) "
            "SELECT {}, {}, unnest({}::text[])",
            issuer_id,
            client_number_id,
            list(fields.aliases),
        )
    return (CREATED if rows[0]["inserted"] else UPDATED), client_number_id


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


RESOLVE_SQL = """
SELECT c.id, c.issuer_id, c.client_code, c.company_name, c.enterprise_number, c.email,
       c.first_name, c.last_name, c.language, c.contract_start, c.delivery_channel,
       c.account_id, c.notifications_enabled
  FROM client_number c
 WHERE c.issuer_id = {} AND (c.client_code = {} OR c.id IN (
       SELECT a.client_number_id FROM client_number_alias a
        WHERE a.issuer_id = {} AND a.reference = {}))
 ORDER BY c.client_code = {} DESC
 LIMIT 1
"""


async def resolve_client_number(issuer_id: int, reference: str) -> dict[str, Any] | None:
    """The issuer's client number for a buyer reference: its client code (normalised)
    first, else an alias equal to the stripped reference; never a company name."""
    stripped = (reference or "").strip()
    if not stripped:
        return None
    code = _code_or_none(stripped) or ""
    rows = await ClientNumber.raw(RESOLVE_SQL, issuer_id, code, issuer_id, stripped, code)
    return dict(rows[0]) if rows else None


async def issuer_for_client_code(raw_client_code: str) -> int:
    """The issuer whose prefix the code starts with (the longest, should prefixes nest)."""
    code = _code_or_none(raw_client_code) or ""
    rows = await Issuer.raw(
        "SELECT id FROM issuer WHERE starts_with({}, prefix) ORDER BY length(prefix) DESC LIMIT 1",
        code,
    )
    if not rows:
        raise NotFound(
            N_("No issuer has the prefix of client code %(client_code)s."), client_code=code
        )
    return int(rows[0]["id"])
