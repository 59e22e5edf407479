"""A client number's fields as the issuer declares them: every one normalised and
checked, and every problem named at once (`email: …; language: …`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from iportal import clock
from iportal.accounts.identifiers import REQUIRED, email_address, normalise_enterprise_number
from iportal.columns import LANGUAGES
from iportal.errors import DomainError, InvalidInput
from iportal.i18n import N_

# Contracts may predate the portal (May 2008 only limits which documents are shown);
# an earlier date than Excel's first one is a typo, not a client.
EARLIEST_CONTRACT_START = date(1900, 1, 1)
MAX_LENGTHS = {"company_name": 200, "first_name": 100, "last_name": 100}
MAX_ALIAS_LENGTH = 200
# Control characters have no place in a name or reference (PostgreSQL refuses NUL).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
CONTROL_CHARACTERS = N_("Control characters are not allowed here.")


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
        raise InvalidInput(REQUIRED)
    if len(text) > max_length:
        raise InvalidInput(N_("At most %(max)s characters, please."), max=max_length)
    return text


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
            raise InvalidInput(REQUIRED)
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
        values["email"] = email_address(data.email)
    with check.field("language"):
        values["language"] = _language(data.language)
    with check.field("contract_start"):
        values["contract_start"] = _contract_start(data.contract_start)
    with check.field("aliases"):
        values["aliases"] = _aliases(data.aliases)
    check.raise_problems()
    return ClientNumberFields(**values)
