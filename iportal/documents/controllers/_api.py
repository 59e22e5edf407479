"""The documents API for people and their accounting software: only what the caller
may see; anything else answers 404, exactly like a document that does not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream

from iportal import clock
from iportal.accounts.services import SessionUser
from iportal.documents import reading
from iportal.documents.controllers._files import (
    FILE_HEADERS,
    asked,
    blobs_of,
    document_item,
    duplicate_response,
    file_response,
    filters_and_sort,
    reader_of,
    rendering_of,
    sandbox_of,
)
from iportal.documents.controllers._query import LIST_QUERY, ListQuery
from iportal.documents.schemas import (
    AttachmentItem,
    AttachmentList,
    DocumentItem,
    DocumentList,
    DocumentSummary,
    Marked,
    MarkRead,
    Total,
)
from iportal.i18n import current_language
from iportal.web.auth import USER
from iportal.web.context import client_ip
from iportal.web.inputs import BigSerialId, SerialId
from iportal.web.params import Cursor, Limit

NO_STORE = {"Cache-Control": "no-store", "Vary": "Cookie, Authorization"}


@get("/", name="documents.list", tags=["documents"])
async def list_documents(
    user: NamedDependency[SessionUser],
    selection: NamedDependency[ListQuery],
    cursor: Cursor = None,
    limit: Limit = None,
) -> Response[DocumentList]:
    """Documents of the last seven years the caller may see. Filters: client_code,
    company (the exact company name), type, number (exact; `F2024*` for a prefix),
    number_prefix, issued_from, issued_to, amount_min, amount_max (including VAT),
    unread; sort: a column, `-` for descending."""
    reader = reader_of(user)
    filters, sort = await filters_and_sort(selection, reader)
    page = await reading.list_documents(reader, filters, sort, cursor, limit)
    return Response(
        DocumentList([document_item(row) for row in page.items], page.next_cursor), headers=NO_STORE
    )


@get("/summary", name="documents.summary", tags=["documents"])
async def summary(
    user: NamedDependency[SessionUser], selection: NamedDependency[ListQuery]
) -> Response[DocumentSummary]:
    """How many documents match the filters (exact up to 10,000) and their totals
    including VAT per currency, credit notes counted negatively."""
    reader = reader_of(user)
    filters, _ = await filters_and_sort(selection, reader)
    result = await reading.overview(reader, filters)
    totals = [Total(t.currency, t.documents, t.total) for t in result.totals]
    return Response(DocumentSummary(result.count, result.capped, totals), headers=NO_STORE)


@get("/{document_id:int}", name="documents.detail", tags=["documents"])
async def detail(
    user: NamedDependency[SessionUser], document_id: FromPath[BigSerialId]
) -> Response[DocumentItem]:
    reader = reader_of(user)
    document = await reading.visible_document(reader, document_id)
    return Response(document_item(document), headers=NO_STORE)


@get("/{document_id:int}/pdf", name="documents.pdf", tags=["documents"])
async def pdf(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    document_id: FromPath[BigSerialId],
    download: FromQuery[bool] = False,
) -> Response[bytes]:
    """The PDF (inline, or as an attachment with `download=true`); marks it read. The
    issuer's PDF; for a document published as XML only, the PDF made from its XML in
    the reader's language, marked on every page as a rendering of the e-invoice."""
    reader = reader_of(user)
    rendering = rendering_of(request)
    file = await reading.open_pdf(
        reader, document_id, blobs_of(request), client_ip(request), rendering
    )
    return file_response(file, "application/pdf", download)


@get("/{document_id:int}/xml", name="documents.xml", tags=["documents"])
async def xml(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    document_id: FromPath[BigSerialId],
) -> Response[bytes]:
    """The Factur-X or UBL XML as published; 404 when the document has none."""
    reader = reader_of(user)
    file = await reading.document_xml(reader, document_id, blobs_of(request), client_ip(request))
    return file_response(file, "application/xml", True)


@get("/{document_id:int}/attachments", name="documents.attachments", tags=["documents"])
async def attachments(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    document_id: FromPath[BigSerialId],
) -> Response[AttachmentList]:
    """The files embedded in the e-invoice (timesheets, delivery notes, the issuer's
    PDF): each one's number, declared name and type, and size in bytes."""
    files = await reading.list_attachments(
        reader_of(user), document_id, blobs_of(request), sandbox_of(request)
    )
    items = [AttachmentItem(f.number, f.name, f.declared_type, f.size) for f in files]
    return Response(AttachmentList(items), headers=NO_STORE)


@get("/{document_id:int}/attachments/{n:int}", name="documents.attachment", tags=["documents"])
async def attachment(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    document_id: FromPath[BigSerialId],
    n: FromPath[SerialId],
) -> Response[bytes]:
    """One embedded file as a download, under its declared name; its declared type
    only when it is a PDF, PNG or JPEG and truly one, else application/octet-stream."""
    file = await reading.open_attachment(
        reader_of(user), document_id, n, blobs_of(request), sandbox_of(request), client_ip(request)
    )
    return Response(
        file.content,
        media_type=file.media_type,
        headers={**FILE_HEADERS, "Content-Disposition": f'attachment; filename="{file.file_name}"'},
    )


@post(
    "/{document_id:int}/duplicate", name="documents.duplicate", tags=["documents"], status_code=200
)
async def duplicate(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    document_id: FromPath[BigSerialId],
) -> Response[bytes]:
    """The PDF stamped DUPLICATE with today's date; the request is recorded."""
    return await duplicate_response(request, user, document_id)


@post("/mark-read", name="documents.mark_read", tags=["documents"], status_code=200)
async def mark_read(user: NamedDependency[SessionUser], data: JSONBody[MarkRead]) -> Marked:
    reader = reader_of(user)
    return Marked(await reading.mark_read(reader, data.ids))


CsvFormat = Annotated[
    str | None,
    QueryParameter(
        name="format",
        description="`excel-eu`: `;` between fields and a decimal comma (Excel in Belgium, "
        "France, Germany, the Netherlands); `excel-en`: `,` and a decimal point. Both UTF-8 "
        "with a BOM. By default the one of the caller's language (nl, fr, de: `excel-eu`; "
        "en: `excel-en`).",
        schema_extra={"enum": list(reading.CSV_FORMATS)},
    ),
]


@get("/export.csv", name="documents.export_csv", tags=["documents"])
async def export_csv(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    selection: NamedDependency[ListQuery],
    file_format: CsvFormat = None,
) -> Stream:
    """The filtered selection as CSV (UTF-8 with BOM) in the convention of `format`,
    streamed; recorded (filters, format and count) in the audit of the account."""
    reader = reader_of(user)
    filters, sort = await filters_and_sort(selection, reader)
    chosen = reading.csv_format(file_format, current_language.get())
    await reading.record_export(
        reader, filters, asked(selection), "csv", client_ip(request), csv_format=chosen
    )
    # Litestar adds "; charset=utf-8" to text types.
    return _export(reading.export_csv(reader, filters, sort, chosen), "text/csv", "csv")


@get("/export.xlsx", name="documents.export_xlsx", tags=["documents"])
async def export_xlsx(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    selection: NamedDependency[ListQuery],
) -> Stream:
    """The filtered selection as an Excel workbook: the header row in the caller's
    language and frozen, dates as dates, amounts as numbers with two decimals, and the
    totals per currency below (invoices minus credit notes). Made in full before it is
    sent (a large selection takes a while); recorded like the CSV."""
    reader = reader_of(user)
    filters, sort = await filters_and_sort(selection, reader)
    await reading.record_export(reader, filters, asked(selection), "xlsx", client_ip(request))
    workbook = reading.export_xlsx(reader, filters, sort, current_language.get())
    return _export(workbook, reading.XLSX_MEDIA_TYPE, "xlsx")


@get("/export.zip", name="documents.export_zip", tags=["documents"])
async def export_zip(
    request: Request[Any, Any, Any],
    user: NamedDependency[SessionUser],
    selection: NamedDependency[ListQuery],
) -> Stream:
    """The filtered selection's PDFs and XMLs with the CSV inside (in the convention of
    the caller's language, as `export.csv`), streamed; recorded (filters and count) in
    the audit of the account."""
    reader = reader_of(user)
    filters, sort = await filters_and_sort(selection, reader)
    await reading.record_export(reader, filters, asked(selection), "zip", client_ip(request))
    chosen = reading.csv_format(None, current_language.get())
    stream = reading.export_zip(reader, filters, sort, blobs_of(request), clock.utcnow(), chosen)
    return _export(stream, "application/zip", "zip")


def _export(content: AsyncIterator[bytes], media_type: str, extension: str) -> Stream:
    """An export as a download named after today, never kept by a cache."""
    return Stream(
        content,
        media_type=media_type,
        headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="documents-{clock.today()}.{extension}"',
        },
    )


api_router = Router(
    path="/api/v1/documents",
    route_handlers=[
        list_documents,
        summary,
        detail,
        pdf,
        xml,
        attachments,
        attachment,
        duplicate,
        mark_read,
        export_csv,
        export_xlsx,
        export_zip,
    ],
    dependencies={**USER, **LIST_QUERY},
)
