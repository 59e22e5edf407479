"""A structured document as a person reads it: the page made from its XML, and the
PDF a person gets when the issuer sent none.

The stored XML is parsed on every read, in the sandbox and under the limits a
publication is read with: publishing accepted it, but it is still a stranger's file.
Rendering on demand keeps publishing as fast as it was and stores nothing that the
XML does not already say. A PDF once made is kept in memory for the next reader of
the same XML in the same language (`RenderedPdfs`): the rendering is deterministic,
so the cache only saves the sandbox's 4-10 ms (more for long invoices), and the
XML's digest names exactly what was rendered.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from iportal import db
from iportal.documents.einvoice_view import ShownInvoice, pdf_of_xml, view_of_xml
from iportal.documents.reading.files import (
    DocumentDetail,
    DocumentFile,
    mark_read,
    record_opening,
    visible_document,
)
from iportal.documents.reading.reader import Reader
from iportal.documents.sandbox import Sandbox, TaskOutOfMemory, TaskTimedOut
from iportal.documents.storage import BlobStore
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_

NO_XML = N_("This document was not published with structured data (XML).")
TOO_LONG = N_("Reading the e-invoice took too long; it was stopped.")
TOO_BIG = N_("Reading the e-invoice needed too much memory.")
T = TypeVar("T")


class RenderedPdfs:
    """The PDFs made from XML most recently asked for, up to `limit` bytes in all, by
    (XML digest, language); the least recently used go first."""

    def __init__(self, limit: int = 32 * 1024 * 1024) -> None:
        self.limit = limit
        self.hits = 0
        self._held = 0
        self._pdfs: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def get(self, xml_digest: str, language: str) -> bytes | None:
        pdf = self._pdfs.get((xml_digest, language))
        if pdf is not None:
            self._pdfs.move_to_end((xml_digest, language))
            self.hits += 1
        return pdf

    def keep(self, xml_digest: str, language: str, pdf: bytes) -> None:
        if len(pdf) > self.limit or (xml_digest, language) in self._pdfs:
            return
        self._pdfs[(xml_digest, language)] = pdf
        self._held += len(pdf)
        while self._held > self.limit:
            _, dropped = self._pdfs.popitem(last=False)
            self._held -= len(dropped)


RENDERED = RenderedPdfs()


async def readable_document(
    reader: Reader,
    document_id: int,
    blobs: BlobStore,
    sandbox: Sandbox,
    language: str,
    ip: str = "",
) -> tuple[DocumentDetail, ShownInvoice]:
    """The document and its e-invoice as the reader reads it, in `language`. Reading
    it marks it read and is recorded, like opening its PDF; `NotFound` when the
    reader may not see it or it has no XML."""
    document = await visible_document(reader, document_id)
    if document.xml_blob_hash is None:
        raise NotFound(NO_XML)
    xml = await blobs.read(document.xml_blob_hash)
    view = await _in_sandbox(sandbox, view_of_xml, xml, language)
    await _opened(reader, document, ip)
    return document, view


async def rendered_pdf(
    document: DocumentDetail, blobs: BlobStore, sandbox: Sandbox, language: str
) -> DocumentFile:
    """The PDF made from the XML of a document the issuer sent no PDF for. The caller
    has authorised the reader and recorded the opening. Not stored: no digest."""
    if document.xml_blob_hash is None:
        raise NotFound(N_("This document has no PDF; download its XML instead."))
    pdf = RENDERED.get(document.xml_blob_hash, language)
    if pdf is None:
        xml = await blobs.read(document.xml_blob_hash)
        pdf = await _in_sandbox(sandbox, pdf_of_xml, xml, language)
        RENDERED.keep(document.xml_blob_hash, language, pdf)
    return DocumentFile(document.file_name("pdf"), pdf, None)


async def _opened(reader: Reader, document: DocumentDetail, ip: str) -> None:
    async with db.transaction():
        await mark_read(reader, [document.id])
        await record_opening(reader, document, "view", ip)


async def _in_sandbox(
    sandbox: Sandbox, function: Callable[[bytes, str], T], xml: bytes, language: str
) -> T:
    try:
        return await sandbox.run(function, xml, language)
    except TaskTimedOut:
        raise InvalidInput(TOO_LONG) from None
    except TaskOutOfMemory:
        raise InvalidInput(TOO_BIG) from None
