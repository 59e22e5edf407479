"""Shared by the documents API and pages: the query string as filters, the reader,
and file responses that no shared cache keeps and no other user gets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, Response

from iportal.accounts.services import SessionUser
from iportal.documents import reading
from iportal.documents.reading import DocumentFile, Filters, ListedDocument, Reader, Sort
from iportal.documents.sandbox import Sandbox
from iportal.documents.schemas import DocumentItem
from iportal.documents.storage import BlobStore, FolderBlobStore
from iportal.i18n import current_language
from iportal.web.context import client_ip, settings_of

FILTER_NAMES = (
    "client_code",
    "company",
    "type",
    "number",
    "number_prefix",
    "issued_from",
    "issued_to",
    "amount_min",
    "amount_max",
    "unread",
)
# An invoice is personal data: no cache keeps it, not even the browser's (a shared
# computer), and an intermediary that ignored that would still key it by credential.
# (`X-Content-Type-Options: nosniff` is on every response: `iportal.web.headers`.)
FILE_HEADERS = {"Cache-Control": "no-store", "Vary": "Cookie, Authorization"}


def reader_of(user: SessionUser) -> Reader:
    return reading.reader_for(user.user_id, token_id=user.token_id, token_name=user.token_name)


def document_item(document: ListedDocument) -> DocumentItem:
    """A document as the API and the page show it, from the list or on its own."""
    return DocumentItem(
        id=document.id,
        client_code=document.client_code,
        type=document.type,
        number=document.number,
        issue_date=document.issue_date,
        due_date=document.due_date,
        currency=document.currency,
        amount_excl_vat=document.amount_excl_vat,
        vat_amount=document.vat_amount,
        amount_incl_vat=document.amount_incl_vat,
        read=document.read,
        type_code=document.type_code,
        has_pdf=document.has_pdf,
        has_xml=document.structured_kind != "none",
    )


def filter_values(query: Mapping[str, str | None]) -> dict[str, str | None]:
    """The list's filters from a query string (the page's) or the API's parameters."""
    return {name: query.get(name) for name in FILTER_NAMES}


def asked(query: Mapping[str, str | None]) -> dict[str, str | None]:
    """The filters and the sort as the reader gave them, for the audit of an export."""
    return {**filter_values(query), "sort": query.get("sort")}


async def filters_and_sort(query: Mapping[str, str | None], reader: Reader) -> tuple[Filters, Sort]:
    sort = Sort.parse(query.get("sort"))
    return await reading.parse_filters(reader, filter_values(query)), sort


def blobs_of(request: Request[Any, Any, Any]) -> BlobStore:
    """The store of PDF and XML bytes: a folder of the data folder."""
    return FolderBlobStore(settings_of(request).blob_dir)


def sandbox_of(request: Request[Any, Any, Any]) -> Sandbox:
    """The web process's sandboxed workers, which the app's lifespan owns."""
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def rendering_of(request: Request[Any, Any, Any]) -> tuple[Callable[[], Sandbox], str]:
    """How a PDF is made from a document's XML for this request: the sandbox (reached
    only if one is made) and the request's language."""
    return (lambda: sandbox_of(request), current_language.get())


def file_response(file: DocumentFile, media_type: str, download: bool) -> Response[bytes]:
    disposition = "attachment" if download else "inline"
    headers = {**FILE_HEADERS, "Content-Disposition": f'{disposition}; filename="{file.name}"'}
    if file.digest is not None:  # a file made for this request has no lasting tag
        headers["ETag"] = f'"{file.digest}"'
    return Response(file.content, media_type=media_type, headers=headers)


async def duplicate_response(
    request: Request[Any, Any, Any], user: SessionUser, document_id: int
) -> Response[bytes]:
    """The PDF stamped DUPLICATE, as a download that no cache keeps."""
    reader = reader_of(user)
    duplicate = await reading.request_duplicate(
        reader, document_id, blobs_of(request), sandbox_of(request), client_ip(request)
    )
    return Response(
        duplicate.content,
        media_type="application/pdf",
        headers={
            **FILE_HEADERS,
            "Content-Disposition": f'attachment; filename="{duplicate.name}"',
        },
    )
