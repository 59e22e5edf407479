"""Exports of the filtered selection, streamed: a CSV for spreadsheets in the reader's
convention (the XLSX workbook is `workbook`'s), and a ZIP with every PDF, every
Factur-X/UBL XML and the CSV. Rows come a thousand at a time through a server-side
cursor and the archive is written as it goes (`zipstream`), so ten thousand documents
need no more memory than one. The blobs of a few dozen rows are read in one trip off
the event loop (`BlobStore.read_many`): a trip per blob would cost more than reading a
small one."""

from __future__ import annotations

import csv
import json
import logging
import tempfile
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from iportal import db
from iportal.accounts.services import record_audit_event
from iportal.db import Record
from iportal.documents.reading.files import file_name
from iportal.documents.reading.listing import Filters, Sort, export_audit_query, export_query
from iportal.documents.reading.reader import Reader
from iportal.documents.reading.zipstream import CHUNK, ZipStream
from iportal.documents.storage import BlobStore
from iportal.errors import InvalidInput
from iportal.i18n import N_

CSV_COLUMNS = (
    "client_code",
    "type",
    "type_code",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
    "pdf_file",
    "xml_file",
)
CSV_NAME = "documents.csv"
CSV_IN_MEMORY = 1024 * 1024
ROWS_AT_ONCE = 1000  # fetched from the cursor, and CSV lines encoded, at a time
ROWS_PER_READ = 256  # rows whose blobs are asked for at once (read a megabyte a trip)
BOM = "\ufeff"  # so that spreadsheet programs read UTF-8
# A cell starting with one of these is a formula to a spreadsheet program (OWASP, CSV
# injection): `=HYPERLINK(…)` in a document number would run when the file is opened.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CsvConvention:
    """How a spreadsheet program of a region reads CSV: its separator and decimal mark."""

    delimiter: str
    decimal: str


# The API's `format` of the CSV export. Excel in Belgium, France, Germany and the
# Netherlands opens `;`-separated files with decimal commas in columns; an English
# Excel, `,` and decimal points. Both as UTF-8 with a BOM, which tells Excel so.
CSV_FORMATS = {"excel-eu": CsvConvention(";", ","), "excel-en": CsvConvention(",", ".")}
CSV_FORMAT_OF_LANGUAGE = {"nl": "excel-eu", "fr": "excel-eu", "de": "excel-eu", "en": "excel-en"}
UNKNOWN_FORMAT = N_("The format “%(value)s” is not one of %(formats)s.")


def csv_format(asked: str | None, language: str) -> str:
    """The CSV format asked for (`excel-eu`, `excel-en`), else the one of the reader's
    language; `InvalidInput` for any other."""
    if not asked:
        return CSV_FORMAT_OF_LANGUAGE.get(language, "excel-en")
    if asked not in CSV_FORMATS:
        raise InvalidInput(UNKNOWN_FORMAT, value=asked, formats=", ".join(CSV_FORMATS))
    return asked


class _CsvLines:
    """CSV lines as they are written, handed out as UTF-8 (the BOM and the header
    first), with the CRC-32 of all handed out so far for the ZIP entry."""

    def __init__(self, convention: CsvConvention = CSV_FORMATS["excel-en"]) -> None:
        self._lines: list[str] = [BOM]
        self.crc = 0
        self.decimal = convention.decimal
        self.writerow = csv.writer(
            self, delimiter=convention.delimiter, lineterminator="\r\n"
        ).writerow
        self.writerow(CSV_COLUMNS)

    def write(self, line: str) -> None:
        self._lines.append(line)

    @property
    def waiting(self) -> int:
        return len(self._lines)

    def take(self) -> bytes:
        taken = "".join(self._lines).encode("utf-8")
        self._lines.clear()
        self.crc = zlib.crc32(taken, self.crc)
        return taken


def _file_names(row: Record) -> tuple[str, str]:
    code, kind, number = row["client_code"], row["type"], row["number"]
    return (
        file_name(code, kind, number, "pdf") if row["pdf_blob_hash"] else "",
        file_name(code, kind, number, "xml") if row["xml_blob_hash"] else "",
    )


def as_text(value: str) -> str:
    """A text cell that a spreadsheet shows as text: one that starts like a formula
    gets a leading `'`. Amounts are numbers and never go through here (`-12.50`)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _amount(value: Decimal, decimal: str) -> str:
    return f"{value:.2f}".replace(".", decimal)


def _csv_values(row: Record, pdf_name: str, xml_name: str, decimal: str) -> Sequence[str]:
    due = row["due_date"]
    return (
        as_text(row["client_code"]),
        as_text(row["type"]),
        as_text(row["type_code"] or ""),
        as_text(row["number"]),
        row["issue_date"].isoformat(),
        due.isoformat() if due else "",
        as_text(row["currency"]),
        _amount(row["amount_excl_vat"], decimal),
        _amount(row["vat_amount"], decimal),
        _amount(row["amount_incl_vat"], decimal),
        as_text(pdf_name),
        as_text(xml_name),
    )


async def selected_rows(reader: Reader, filters: Filters, sort: Sort) -> AsyncIterator[Record]:
    """Every document of the selection, in the list's order, through a server cursor."""
    sql = export_query(reader.scope, filters, sort)
    async for row in db.stream(sql.text, *sql.args, prefetch=ROWS_AT_ONCE):
        yield row


async def in_groups(rows: AsyncIterator[Record], size: int) -> AsyncIterator[list[Record]]:
    """The rows `size` at a time (the last group may be shorter)."""
    group: list[Record] = []
    async for row in rows:
        group.append(row)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


async def record_export(
    reader: Reader,
    filters: Filters,
    asked: Mapping[str, object],
    file_format: str,
    ip: str = "",
    csv_format: str | None = None,
) -> None:
    """Records an export before its first byte goes out: the filters as asked
    (`asked`), the file's format (and the CSV's convention, `excel-eu` or `excel-en`),
    how the reader came, and the count of documents per account, one event each (one in
    all when nothing matches)."""
    detail = {
        "format": file_format,
        **({"csv_format": csv_format} if csv_format else {}),
        "filters": {name: value for name, value in asked.items() if value},
        **reader.via,
    }
    sql = export_audit_query(reader.scope, filters, ip[:45], json.dumps(detail, default=str))
    async with db.transaction():
        if not await db.fetch(sql.text, *sql.args):
            await record_audit_event(
                "document_exported", actor_id=reader.user_id, ip=ip, detail={**detail, "count": 0}
            )


async def export_csv(
    reader: Reader, filters: Filters, sort: Sort, file_format: str = "excel-en"
) -> AsyncIterator[bytes]:
    """The reader's documents matching the filters as CSV (UTF-8 with a BOM) in the
    format's convention (`CSV_FORMATS`), in pieces."""
    lines = _CsvLines(CSV_FORMATS[file_format])
    async for row in selected_rows(reader, filters, sort):
        lines.writerow(_csv_values(row, *_file_names(row), lines.decimal))
        if lines.waiting >= ROWS_AT_ONCE:
            yield lines.take()
    yield lines.take()


async def export_zip(
    reader: Reader,
    filters: Filters,
    sort: Sort,
    blobs: BlobStore,
    now: datetime,
    file_format: str = "excel-en",
) -> AsyncIterator[bytes]:
    """The reader's documents matching the filters as a ZIP archive of their PDFs and
    XMLs, with the CSV (in the format's convention) last, in pieces of about a megabyte."""
    lines = _CsvLines(CSV_FORMATS[file_format])
    # The CSV comes last in the archive; its lines wait on disk, not in memory.
    with (
        ZipStream(now) as archive,
        tempfile.SpooledTemporaryFile(max_size=CSV_IN_MEMORY) as spool,
    ):
        async for rows in in_groups(selected_rows(reader, filters, sort), ROWS_PER_READ):
            members: list[tuple[str, str, int]] = []  # name, digest, document id
            for row in rows:
                pdf_name, xml_name = _file_names(row)
                lines.writerow(_csv_values(row, pdf_name, xml_name, lines.decimal))
                if pdf_name:
                    members.append((pdf_name, row["pdf_blob_hash"], row["id"]))
                if xml_name:
                    members.append((xml_name, row["xml_blob_hash"], row["id"]))
            if lines.waiting >= ROWS_AT_ONCE:
                spool.write(lines.take())
            added = 0
            async for content in blobs.read_many([digest for _, digest, _ in members]):
                name, digest, document_id = members[added]
                added += 1
                if content is None:  # never expected: logged, and the rest still comes
                    log.error("blob %s of document %s is missing", digest, document_id)
                    continue
                archive.add(name, content)
                if archive.pending >= CHUNK:  # fewer, larger writes to the socket
                    yield archive.take()
        spool.write(lines.take())
        archive.begin(CSV_NAME, spool.tell(), lines.crc)
        spool.seek(0)
        while block := spool.read(CHUNK):
            archive.write(block)
            if archive.pending >= CHUNK:
                yield archive.take()
        for chunk in archive.finish():
            yield chunk
