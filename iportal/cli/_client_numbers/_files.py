"""The issuer's file of client numbers: read whole (CSV or XLSX), then imported row by row.

A file that cannot be read raises `InvalidInput` before anything is written. Each
row is then its own transaction (`upsert_client_number`), so a rejected row
changes nothing and never stops the others.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services import (
    ClientNumberInput,
    issuer_by_prefix,
    issuer_for_client_code,
    upsert_client_number,
)
from iportal.errors import Conflict, DomainError, InvalidInput
from iportal.i18n import N_

COLUMNS = (
    "client_code",
    "company_name",
    "enterprise_number",
    "email",
    "first_name",
    "last_name",
    "language",
    "contract_start",
    "aliases",
)
OPTIONAL_COLUMNS = ("enterprise_number", "aliases")
ALIAS_SEPARATOR = ";"
DATA_SHEET = "Client numbers"
REJECTED = "rejected"
STRAY_VALUE = N_(
    "This row has a value outside the named columns: is there a separator inside a value "
    "that is not in quotes?"
)


@dataclass(frozen=True)
class ImportRow:
    """One row of the file: its number as the spreadsheet shows it, the code as written."""

    row: int
    client_code: str
    data: ClientNumberInput
    error: DomainError | None = None  # what makes the row unusable before any check


@dataclass(frozen=True)
class ImportResult:
    row: int
    client_code: str
    outcome: str  # created, updated or rejected
    error: DomainError | None = None

    @property
    def reason(self) -> str:
        """Why the row was rejected, in the current language."""
        return self.error.translated() if self.error else ""


def _header(cells: list[Any]) -> list[str]:
    names = [" ".join(str(c or "").split()).lower().replace(" ", "_") for c in cells]
    present = [n for n in names if n]
    missing = [c for c in COLUMNS if c not in present and c not in OPTIONAL_COLUMNS]
    unknown = [n for n in present if n not in COLUMNS]
    if not present:
        raise InvalidInput(N_("the file has no header row."))
    if missing:
        raise InvalidInput(N_("missing columns: %(columns)s."), columns=", ".join(missing))
    if unknown:  # a misspelt column would otherwise be dropped without a word
        raise InvalidInput(
            N_("unknown columns: %(columns)s (expected: %(expected)s)."),
            columns=", ".join(unknown),
            expected=", ".join(COLUMNS),
        )
    repeated = sorted({n for n in present if present.count(n) > 1})
    if repeated:
        raise InvalidInput(N_("repeated columns: %(columns)s."), columns=", ".join(repeated))
    return names


def _text(value: Any) -> str:
    """A cell as text: numbers without a spurious `.0`, dates as ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _enterprise_number(value: Any) -> str:
    # A spreadsheet keeps 0417000129 as the number 417000129: give back its leading zero.
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 10**10:
        return f"{int(value):010d}"
    return _text(value)


def _contract_start(value: Any) -> date | str:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2958466:
        from openpyxl.utils.datetime import from_excel

        found: datetime = from_excel(value)  # a date cell that lost its date format
        return found.date()
    return _text(value)


def _row(number: int, names: list[str], cells: list[Any]) -> ImportRow | None:
    values: dict[str, Any] = {}
    stray = False  # a value under no column name: the row is shifted, never silently cut
    for index, cell in enumerate(cells):
        name = names[index] if index < len(names) else ""
        if name:
            values[name] = cell
        elif _text(cell):
            stray = True
    if not stray and all(_text(v) == "" for v in values.values()):
        return None
    aliases = None
    if "aliases" in names:
        aliases = [a.strip() for a in _text(values.get("aliases")).split(ALIAS_SEPARATOR)]
        aliases = [a for a in aliases if a]
    data = ClientNumberInput(
        company_name=_text(values.get("company_name")),
        email=_text(values.get("email")),
        first_name=_text(values.get("first_name")),
        last_name=_text(values.get("last_name")),
        language=_text(values.get("language")),
        contract_start=_contract_start(values.get("contract_start")),
        enterprise_number=_enterprise_number(values.get("enterprise_number")),
        aliases=aliases,
    )
    error = InvalidInput(STRAY_VALUE) if stray else None
    return ImportRow(number, _text(values.get("client_code")), data, error)


def _rows(table: list[list[Any]]) -> list[ImportRow]:
    """Rows numbered as the spreadsheet shows them: the header is row 1."""
    if not table:
        raise InvalidInput(N_("the file has no header row."))
    names = _header(table[0])
    rows = [_row(number, names, cells) for number, cells in enumerate(table[1:], start=2)]
    return [row for row in rows if row is not None]


def _csv_table(path: Path) -> list[list[Any]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # saved by Excel on Windows
        text = raw.decode("cp1252", errors="replace")
    first_line = text.split("\n", 1)[0]
    # Excel writes `;` where the decimal separator is a comma, as in Belgium.
    delimiter = max(",;\t", key=first_line.count)
    try:
        return [list(cells) for cells in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error as error:
        raise InvalidInput(N_("not a valid CSV file (%(reason)s)."), reason=str(error)) from None


def _xlsx_table(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except OSError:
        raise  # reported by the caller, as for a CSV file
    except Exception as error:  # a damaged workbook fails in many ways; all mean "unreadable"
        raise InvalidInput(
            N_("not a readable Excel workbook (%(reason)s)."),
            reason=f"{type(error).__name__}: {error}",
        ) from None
    try:
        names = workbook.sheetnames
        sheet = workbook[DATA_SHEET if DATA_SHEET in names else names[0]]
        return [list(cells) for cells in sheet.iter_rows(values_only=True)]
    except Exception as error:
        raise InvalidInput(
            N_("not a readable Excel workbook (%(reason)s)."),
            reason=f"{type(error).__name__}: {error}",
        ) from None
    finally:
        workbook.close()


def read_client_numbers(path: Path) -> list[ImportRow]:
    """The file's rows as `ImportRow`s; `InvalidInput` says why a file cannot be read."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise InvalidInput(N_("give a .csv or .xlsx file (an .xls file: save it as .xlsx)."))
    try:
        table = _csv_table(path) if suffix == ".csv" else _xlsx_table(path)
    except OSError as error:
        raise InvalidInput(
            N_("cannot be read (%(reason)s)."), reason=error.strerror or str(error)
        ) from None
    return _rows(table)


def _normalised(raw_client_code: str) -> str:
    try:
        return normalise_client_code(raw_client_code)
    except InvalidInput:
        return raw_client_code.strip()


async def import_rows(
    rows: Iterable[ImportRow], *, issuer_prefix: str | None = None
) -> list[ImportResult]:
    """Create or update each row's client number; one result per row.

    With `issuer_prefix`, every code must be that issuer's; without, each code goes to
    the issuer whose prefix it starts with. A code that appears again further down the
    file is rejected rather than silently overwriting the first.
    """
    issuer_id = (await issuer_by_prefix(issuer_prefix)).id if issuer_prefix else None
    seen: dict[str, int] = {}
    results = []
    for row in rows:
        code = _normalised(row.client_code)
        try:
            if code in seen:
                raise Conflict(
                    N_("Client code %(client_code)s is already in row %(row)s of this file."),
                    client_code=code,
                    row=seen[code],
                )
            seen[code] = row.row
            if row.error is not None:
                raise row.error
            owner = issuer_id or await issuer_for_client_code(row.client_code)
            outcome, _ = await upsert_client_number(owner, row.client_code, row.data)
        except DomainError as error:
            results.append(ImportResult(row.row, code, REJECTED, error))
        else:
            results.append(ImportResult(row.row, code, outcome))
    return results


def write_report(path: Path, results: list[ImportResult]) -> None:
    # With a byte-order mark, so that Excel opens the accents and quotes correctly.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["row", "client_code", "result", "reason"])
        for result in results:
            writer.writerow([result.row, result.client_code, result.outcome, result.reason])
