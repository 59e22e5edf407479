"""Shared by the documents API and pages: the query string as filters, the reader,
and file responses that no shared cache keeps and no other user gets."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from iportal.accounts.services import SessionUser
from iportal.documents import services
from iportal.documents.blobs import FolderBlobStore
from iportal.documents.listing import Filters, Sort
from iportal.documents.schemas import DocumentItem
from iportal.web.context import client_ip, settings_of

FILTER_NAMES = (
    "client_code",
    "type",
    "number",
    "number_prefix",
    "issued_from",
    "issued_to",
    "amount_min",
    "amount_max",
    "unread",
)
# The file is the same for every reader who may see it, but only they may: private,
# revalidated, and different per cookie or token.
FILE_HEADERS = {
    "Cache-Control": "private, no-cache",
    "Vary": "Cookie, Authorization",
    "X-Content-Type-Options": "nosniff",
}


def reader_of(user: SessionUser) -> services.Reader:
    return services.reader_for(user.user_id)


def document_item(row: dict[str, Any]) -> DocumentItem:
    """A document as the API and the page show it, from a list row or a whole row."""
    return DocumentItem(
        id=row["id"],
        client_code=row["client_code"],
        type=row["type"],
        number=row["number"],
        issue_date=row["issue_date"],
        due_date=row["due_date"],
        currency=row["currency"],
        amount_excl_vat=row["amount_excl_vat"],
        vat_amount=row["vat_amount"],
        amount_incl_vat=row["amount_incl_vat"],
        read=row["read"],
        type_code=row.get("type_code"),
        has_pdf=bool(row.get("has_pdf", row.get("pdf_blob_hash"))),
        has_xml=row.get("structured_kind", "none") != "none",
    )


def query_of(request: Request[Any, Any, Any]) -> dict[str, str | None]:
    return {name: request.query_params.get(name) for name in FILTER_NAMES}


async def filters_and_sort(
    request: Request[Any, Any, Any], reader: services.Reader
) -> tuple[Filters, Sort]:
    sort = Sort.parse(request.query_params.get("sort"))
    return await services.parse_filters(reader, query_of(request)), sort


def blobs_of(request: Request[Any, Any, Any]) -> FolderBlobStore:
    return FolderBlobStore(settings_of(request).blob_dir)


def file_response(
    content: bytes, media_type: str, name: str, digest: str, download: bool
) -> Response[bytes]:
    disposition = "attachment" if download else "inline"
    return Response(
        content,
        media_type=media_type,
        headers={
            **FILE_HEADERS,
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "ETag": f'"{digest}"',
        },
    )


async def duplicate_response(
    request: Request[Any, Any, Any], user: SessionUser, document_id: int
) -> Response[bytes]:
    """The PDF stamped DUPLICATE, as a download that no cache keeps."""
    reader = reader_of(user)
    document, content = await services.request_duplicate(
        reader, document_id, blobs_of(request), client_ip(request)
    )
    name = services.file_name(document, "pdf").replace(".pdf", "_DUPLICATE.pdf")
    return Response(
        content,
        media_type="application/pdf",
        headers={
            **FILE_HEADERS,
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
