"""Opening a document's PDF: what "read" means.

A document stays unread (bold in the list) until a person opens it. Accounting software
fetching the PDF with a personal API token is not that person reading it: the opening is
recorded, as the token's, and the read mark is left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from iportal import db
from iportal.accounts.services import record_audit_event
from iportal.documents.reading import files
from iportal.documents.reading.files import (
    NO_PDF,
    DocumentFile,
    document_pdf,
    has_pdf,
    visible_document,
)
from iportal.documents.reading.reader import Reader
from iportal.documents.sandbox import Sandbox
from iportal.documents.storage import BlobStore
from iportal.errors import NotFound


async def open_pdf(
    reader: Reader,
    document_id: int,
    blobs: BlobStore,
    ip: str = "",
    rendering: tuple[Callable[[], Sandbox], str] | None = None,
) -> DocumentFile:
    """The PDF, as `files.open_pdf` gives it; every opening is recorded. A person (a
    browser session) opening it marks it read for them; a personal API token does not
    (the audit records the opening as the token's, with its id and name)."""
    if reader.token_id is None:
        return await files.open_pdf(reader, document_id, blobs, ip, rendering)
    async with db.transaction():  # authorised and recorded before a byte goes out
        document = await visible_document(reader, document_id)
        if not has_pdf(document, rendering is not None):
            raise NotFound(NO_PDF)
        await record_audit_event(
            "document_opened",
            actor_id=reader.user_id,
            client_number_id=document.client_number_id,
            document_id=document_id,
            ip=ip,
            detail={"file": "pdf", **reader.via},
        )
    return await document_pdf(document, blobs, rendering)
