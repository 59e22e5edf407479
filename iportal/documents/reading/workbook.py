"""The filtered selection as an Excel workbook (XLSX), for people rather than programs:
the header in the reader's language, dates as dates, amounts as numbers with two
decimals, the header row frozen, and the totals of the selection below the rows.

openpyxl's write-only mode keeps rows on disk, not in memory, whatever the selection's
size; it writes the archive when the workbook is saved, so the file goes out once it is
complete. Its work runs in a thread, a thousand rows at a time, off the event loop.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from iportal.db import Record
from iportal.documents.reading.export import ROWS_AT_ONCE, in_groups, selected_rows
from iportal.documents.reading.listing import Filters, Sort
from iportal.documents.reading.reader import Reader
from iportal.documents.reading.zipstream import CHUNK
from iportal.i18n import N_, translate

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's last row is 1,048,576: a longer selection continues on another sheet.
ROWS_PER_SHEET = 1_000_000
DATE_FORMAT = "yyyy-mm-dd"
AMOUNT_FORMAT = "#,##0.00"
HEADERS = (
    N_("Client number"),
    N_("Company"),
    N_("Type"),
    N_("Number"),
    N_("Issue date"),
    N_("Due date"),
    N_("Currency"),
    N_("Amount excl. VAT"),
    N_("VAT"),
    N_("Amount incl. VAT"),
)
WIDTHS = (14, 28, 12, 18, 12, 12, 9, 16, 14, 16)
TYPES = {"invoice": N_("Invoice"), "credit_note": N_("Credit note")}
SHEET = N_("Documents")
TOTAL = N_("Total %(currency)s (invoices minus credit notes)")
AMOUNT_COLUMNS = ("amount_excl_vat", "vat_amount", "amount_incl_vat")


class _Book:
    """The workbook being written: its current sheet, the rows written, and the totals
    per currency (credit notes counted negatively, as the list's totals)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.book = Workbook(write_only=True)
        self.sheet: WriteOnlyWorksheet | None = None
        self.sheets = 0
        self.rows_on_sheet = 0
        self.totals: dict[str, list[Decimal]] = {}
        self.bold = Font(bold=True)
        self.types = {kind: translate(text, language) for kind, text in TYPES.items()}

    def _new_sheet(self) -> WriteOnlyWorksheet:
        self.sheets += 1
        title = translate(SHEET, self.language)
        sheet: WriteOnlyWorksheet = self.book.create_sheet(
            title if self.sheets == 1 else f"{title} ({self.sheets})"
        )
        sheet.freeze_panes = "A2"
        for index, width in enumerate(WIDTHS):
            sheet.column_dimensions[chr(ord("A") + index)].width = width
        sheet.append([self._cell(sheet, translate(h, self.language), bold=True) for h in HEADERS])
        self.rows_on_sheet = 0
        return sheet

    def _cell(
        self, sheet: WriteOnlyWorksheet, value: Any, number_format: str = "", bold: bool = False
    ) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        if number_format:
            cell.number_format = number_format
        if bold:
            cell.font = self.bold
        return cell

    def _text(self, sheet: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
        """Text that stays text: openpyxl would write `=HYPERLINK(…)` in a document
        number as a formula, which runs when the file is opened. Control characters,
        which XML cannot hold (none should be stored), are left out."""
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        if cell.data_type == "f":
            cell.data_type = "s"
        return cell

    def add(self, rows: list[Record]) -> None:
        for row in rows:
            if self.sheet is None or self.rows_on_sheet >= ROWS_PER_SHEET:
                self.sheet = self._new_sheet()
            sheet = self.sheet
            sheet.append(
                [
                    self._text(sheet, row["client_code"]),
                    self._text(sheet, row["company_name"]),
                    self.types.get(row["type"], row["type"]),
                    self._text(sheet, row["number"]),
                    self._cell(sheet, row["issue_date"], DATE_FORMAT),
                    self._cell(sheet, row["due_date"], DATE_FORMAT) if row["due_date"] else None,
                    row["currency"],
                    *(self._cell(sheet, row[name], AMOUNT_FORMAT) for name in AMOUNT_COLUMNS),
                ]
            )
            self.rows_on_sheet += 1
            sign = -1 if row["type"] == "credit_note" else 1
            totals = self.totals.setdefault(row["currency"], [Decimal(0)] * 3)
            for i, name in enumerate(AMOUNT_COLUMNS):
                totals[i] += sign * row[name]

    def finish(self, into: IO[bytes]) -> None:
        """The totals below the rows (one line per currency: written as values, so any
        reader sees them), then the workbook saved into `into`."""
        if self.sheet is None:
            self.sheet = self._new_sheet()
        sheet = self.sheet
        sheet.append([])
        for currency, totals in sorted(self.totals.items()):
            label = translate(TOTAL, self.language, currency=currency)
            sheet.append(
                [self._cell(sheet, label, bold=True), *[None] * 6]
                + [self._cell(sheet, total, AMOUNT_FORMAT, bold=True) for total in totals]
            )
        self.book.save(into)


async def export_xlsx(
    reader: Reader, filters: Filters, sort: Sort, language: str
) -> AsyncIterator[bytes]:
    """The reader's documents matching the filters as an XLSX workbook, headers and
    types in `language`, in the list's order, then the totals; in pieces."""
    book = _Book(language)
    async for rows in in_groups(selected_rows(reader, filters, sort), ROWS_AT_ONCE):
        await asyncio.to_thread(book.add, rows)
    with tempfile.TemporaryFile() as file:
        await asyncio.to_thread(book.finish, file)
        file.seek(0)
        while block := await asyncio.to_thread(file.read, CHUNK):
            yield block
