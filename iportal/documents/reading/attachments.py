"""The files embedded in an e-invoice's XML (timesheets, delivery notes, the issuer's
PDF; UBL `EmbeddedDocumentBinaryObject`, CII `AttachmentBinaryObject`), listed and
downloaded one by one by a reader who may see the document.

The XML was checked when it was published, but it is still the sender's: it is read
again in the sandbox, as a duplicate is stamped there. Each file keeps its declared
name and type; it is served as an attachment, under the declared type only when the
type is one a browser cannot be made to run and the bytes are of that type, else as
`application/octet-stream`.
"""

from __future__ import annotations

from dataclasses import dataclass

from iportal import db
from iportal.documents.reading.files import DocumentDetail, record_opening, visible_document
from iportal.documents.reading.reader import Reader
from iportal.documents.sandbox import Sandbox, TaskOutOfMemory, TaskTimedOut
from iportal.documents.storage import BlobStore
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_

OCTET_STREAM = "application/octet-stream"
# Declared types served as such when the bytes start as that type does.
_SIGNATURES = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}


@dataclass(frozen=True)
class EmbeddedFile:
    """One file of the e-invoice: its number (from 1), declared name and type, bytes."""

    number: int
    name: str
    declared_type: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def media_type(self) -> str:
        """The type it is served with: the declared one only when it is safe and true."""
        signature = _SIGNATURES.get(self.declared_type)
        if signature is not None and self.content.startswith(signature):
            return self.declared_type
        return OCTET_STREAM

    @property
    def file_name(self) -> str:
        """The declared name with safe characters only (it goes into a header)."""
        safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in self.name)
        return safe.strip(".") or f"attachment-{self.number}"


async def _embedded(
    document: DocumentDetail, blobs: BlobStore, sandbox: Sandbox
) -> list[EmbeddedFile]:
    # UBL and CII (Factur-X) both embed files in their XML; the readable page lists
    # them from the same reading, so its links and these numbers agree.
    if document.xml_blob_hash is None:
        return []
    # Imported on first use, as stamping is: the web process only names it to a worker.
    from iportal.documents.einvoice_view import embedded_files

    xml = await blobs.read(document.xml_blob_hash)
    try:
        found = await sandbox.run(embedded_files, xml)
    except TaskTimedOut:
        raise InvalidInput(N_("Reading the attachments took too long; it was stopped.")) from None
    except TaskOutOfMemory:
        raise InvalidInput(N_("Reading the attachments needed too much memory.")) from None
    return [
        EmbeddedFile(number, name, declared, content)
        for number, (name, declared, content) in enumerate(found, start=1)
    ]


async def list_attachments(
    reader: Reader, document_id: int, blobs: BlobStore, sandbox: Sandbox
) -> list[EmbeddedFile]:
    """The files embedded in a document the reader may see; `NotFound` otherwise."""
    document = await visible_document(reader, document_id)
    return await _embedded(document, blobs, sandbox)


async def open_attachment(
    reader: Reader, document_id: int, number: int, blobs: BlobStore, sandbox: Sandbox, ip: str = ""
) -> EmbeddedFile:
    """One embedded file, by its number; the opening is recorded like a PDF's, before a
    byte goes out. `NotFound` for a document the reader may not see or no such file."""
    document = await visible_document(reader, document_id)
    files = await _embedded(document, blobs, sandbox)
    if not 1 <= number <= len(files):
        raise NotFound()
    async with db.transaction():
        await visible_document(reader, document_id)  # access may have ended meanwhile
        await record_opening(reader, document, "attachment", ip, attachment=number)
    return files[number - 1]
