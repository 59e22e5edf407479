"""Documents: publishing and recording them once, and reading them — only what the
reader may see, through one visibility function."""

from iportal.documents.services._export import export_csv, export_zip
from iportal.documents.services._publishing import (
    ALREADY_PUBLISHED,
    PUBLISHED,
    Recorded,
    clean_blobs,
    document_counts,
    issuer_documents,
    parse_metadata_json,
    publish_upload,
    record_document,
)
from iportal.documents.services._reading import (
    DocumentPage,
    Overview,
    Reader,
    document_xml,
    file_name,
    list_documents,
    mark_read,
    open_pdf,
    overview,
    page_and_overview,
    parse_filters,
    reader_for,
    request_duplicate,
    visible_document,
)

__all__ = [
    "ALREADY_PUBLISHED",
    "PUBLISHED",
    "DocumentPage",
    "Overview",
    "Reader",
    "Recorded",
    "clean_blobs",
    "document_counts",
    "document_xml",
    "export_csv",
    "export_zip",
    "file_name",
    "issuer_documents",
    "list_documents",
    "mark_read",
    "open_pdf",
    "overview",
    "page_and_overview",
    "parse_filters",
    "parse_metadata_json",
    "publish_upload",
    "reader_for",
    "record_document",
    "request_duplicate",
    "visible_document",
]
