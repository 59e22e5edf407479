"""Reading: what a person is shown of the published documents, and nothing more.

It owns every way a document goes out to a reader, always through the database's
`visible_document` (what `sharing` says they may see) and inside their window: the
reader and the list with its filters, sorts, count and totals (`reader`, on the SQL
of `listing`; amounts read as people type them, `amounts`), one document with its
PDF, XML, read marks (a person's opening, not a token's) and duplicates
stamped in the sandbox (`files`, `stamping`), and the streamed CSV, XLSX and ZIP
exports (`export`, which writes the archive with `zipstream`). How documents come in
is the other room's, `documents.publishing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iportal.documents._lazy import lazy_exports

if TYPE_CHECKING:
    from iportal.documents.reading.amounts import NotAnAmount, parse_amount
    from iportal.documents.reading.attachments import (
        EmbeddedFile,
        list_attachments,
        open_attachment,
    )
    from iportal.documents.reading.export import (
        CSV_FORMATS,
        csv_format,
        export_csv,
        export_zip,
        record_export,
    )
    from iportal.documents.reading.files import (
        DocumentDetail,
        DocumentFile,
        document_pdf,
        document_xml,
        file_name,
        issued_pdf,
        issued_xml,
        mark_read,
        open_pdf,
        request_duplicate,
        visible_document,
    )
    from iportal.documents.reading.listing import SORT_KEYS, Filters, Sort
    from iportal.documents.reading.readable import readable_document, rendered_pdf
    from iportal.documents.reading.reader import (
        PORTAL_START,
        CurrencyTotal,
        DocumentPage,
        InvalidFilters,
        ListedDocument,
        ListView,
        Overview,
        Reader,
        UnknownClientCode,
        list_documents,
        list_view,
        overview,
        parse_filters,
        reader_for,
        window_start,
    )
    from iportal.documents.reading.workbook import XLSX_MEDIA_TYPE, export_xlsx

__all__ = [
    "CSV_FORMATS",
    "PORTAL_START",
    "SORT_KEYS",
    "XLSX_MEDIA_TYPE",
    "CurrencyTotal",
    "DocumentDetail",
    "DocumentFile",
    "DocumentPage",
    "EmbeddedFile",
    "Filters",
    "InvalidFilters",
    "ListView",
    "ListedDocument",
    "NotAnAmount",
    "Overview",
    "Reader",
    "Sort",
    "UnknownClientCode",
    "csv_format",
    "document_pdf",
    "document_xml",
    "export_csv",
    "export_xlsx",
    "export_zip",
    "file_name",
    "issued_pdf",
    "issued_xml",
    "list_attachments",
    "list_documents",
    "list_view",
    "mark_read",
    "open_attachment",
    "open_pdf",
    "overview",
    "parse_amount",
    "parse_filters",
    "readable_document",
    "reader_for",
    "record_export",
    "rendered_pdf",
    "request_duplicate",
    "visible_document",
    "window_start",
]

# Loaded on first use: a sandboxed worker imports one module, not the whole room.
__getattr__ = lazy_exports(
    globals(),
    (
        "reader",
        "files",
        "export",
        "listing",
        "attachments",
        "readable",
        "amounts",
        "workbook",
    ),
)
