"""Exports of the filtered selection, streamed: a CSV for spreadsheets and a ZIP with
every PDF, every Factur-X/UBL XML and the CSV. Rows come through a server-side
cursor and files are written one at a time, so ten thousand documents need no more
memory than one."""

from __future__ import annotations

import csv
import io
import logging
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from iportal.db import stream_rows
from iportal.documents.blobs import BlobStore
from iportal.documents.listing import Filters, Sort, export_query
from iportal.documents.services._reading import Reader, file_name

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
log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
CSV_IN_MEMORY = 1024 * 1024
CSV_IN_MEMORY = 1024 * 1024
BOM = "\ufeff"  # so that spreadsheet programs read UTF-8


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def _csv_values(row: Any) -> list[Any]:
    document = dict(row)
    return [
        document["client_code"],
        document["type"],
        document["type_code"] or "",
        document["number"],
        document["issue_date"].isoformat(),
        document["due_date"].isoformat() if document["due_date"] else "",
        document["currency"],
        f"{document['amount_excl_vat']:.2f}",
        f"{document['vat_amount']:.2f}",
        f"{document['amount_incl_vat']:.2f}",
        file_name(document, "pdf") if document["pdf_blob_hash"] else "",
        file_name(document, "xml") if document["xml_blob_hash"] else "",
    ]


async def _rows(reader: Reader, filters: Filters, sort: Sort) -> AsyncIterator[Any]:
    if not reader.scope.ids:
        return
    sql = export_query(reader.scope, filters, sort, reader.user_id)
    async for row in stream_rows(sql.text, sql.params):
        yield row


async def export_csv(reader: Reader, filters: Filters, sort: Sort) -> AsyncIterator[bytes]:
    yield (BOM + _csv_line(list(CSV_COLUMNS))).encode("utf-8")
    async for row in _rows(reader, filters, sort):
        yield _csv_line(_csv_values(row)).encode("utf-8")


class _Sink(io.RawIOBase):
    """Where zipfile writes; the stream takes what was written after each file."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    @property
    def size(self) -> int:
        return sum(len(chunk) for chunk in self._chunks)

    def take(self) -> bytes:
        taken, self._chunks = b"".join(self._chunks), []
        return taken


def _entry(name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED  # PDFs are compressed already
    return info


async def export_zip(
    reader: Reader, filters: Filters, sort: Sort, blobs: BlobStore, now: datetime
) -> AsyncIterator[bytes]:
    sink = _Sink()
    # The CSV comes last in the archive; its lines wait on disk, not in memory.
    with (
        tempfile.SpooledTemporaryFile(max_size=CSV_IN_MEMORY, mode="w+b") as lines,
        zipfile.ZipFile(sink, mode="w", allowZip64=True) as archive,
    ):
        lines.write((BOM + _csv_line(list(CSV_COLUMNS))).encode("utf-8"))
        async for row in _rows(reader, filters, sort):
            document = dict(row)
            for kind, digest in (
                ("pdf", document["pdf_blob_hash"]),
                ("xml", document["xml_blob_hash"]),
            ):
                if digest:
                    try:
                        content = blobs.get(digest)
                    except OSError:  # never expected: logged, and the rest still comes
                        log.error("blob %s of document %s is missing", digest, document["id"])
                        continue
                    archive.writestr(_entry(file_name(document, kind), now), content)
                    if sink.size >= CHUNK:  # fewer, larger writes to the socket
                        yield sink.take()
            lines.write(_csv_line(_csv_values(row)).encode("utf-8"))
        lines.seek(0)
        with archive.open(_entry("documents.csv", now), mode="w") as member:
            shutil.copyfileobj(lines, member)
    yield sink.take()
