"""One document as a reader gets it: its row, its PDF or XML, a copy stamped DUPLICATE,
and read marks. Only a document the reader may see, inside their window; anything
else is `NotFound`, exactly like a missing id.

A duplicate is stamped in the sandbox, under the limits a publication is read with:
a PDF that publishing accepted may still hide a stream that inflates to gigabytes
in the pages that stamping rewrites."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from iportal import clock, db
from iportal.accounts.services import record_audit_event
from iportal.documents.reading.reader import ListedDocument, Reader
from iportal.documents.sandbox import Sandbox, TaskOutOfMemory, TaskTimedOut
from iportal.documents.storage import BlobStore
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_


def file_name(client_code: str, kind: str, number: str, extension: str) -> str:
    """`DL20012345_invoice_F2024-00123.pdf`: safe characters only."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in number)
    return f"{client_code}_{kind}_{safe}.{extension}"


@dataclass(frozen=True)
class DocumentDetail(ListedDocument):
    """A document the reader may see, with where its files are."""

    client_number_id: int
    pdf_blob_hash: str | None
    xml_blob_hash: str | None

    def file_name(self, extension: str) -> str:
        return file_name(self.client_code, self.type, self.number, extension)


@dataclass(frozen=True)
class DocumentFile:
    """A file as the reader downloads it: its name, its bytes, and the SHA-256 of a
    file stored as it is (None for one made for this request)."""

    name: str
    content: bytes
    digest: str | None


# A document is the reader's when their copy of it exists (the whole primary key of
# `visible_document`: one index probe), it is inside the window and the reader's
# access has not ended.
VISIBLE_DOCUMENT_SQL = """
SELECT d.id, c.client_code, d.type, d.type_code, d.number, d.issue_date, d.due_date,
       d.currency, d.amount_excl_vat, d.vat_amount, d.amount_incl_vat, d.structured_kind,
       d.pdf_blob_hash IS NOT NULL AS has_pdf,
       EXISTS (SELECT 1 FROM document_read_mark r
                WHERE r.user_id = v.user_id AND r.document_id = d.id) AS read,
       d.client_number_id, d.pdf_blob_hash, d.xml_blob_hash
  FROM document d
  JOIN visible_document v ON v.user_id = $1 AND v.client_number_id = d.client_number_id
                         AND v.issue_date = d.issue_date AND v.document_id = d.id
  JOIN client_number c ON c.id = d.client_number_id
 WHERE d.id = $2 AND d.issue_date >= $3 AND still_visible(v.access_ends_at)
"""
MARK_READ_SQL = """
INSERT INTO document_read_mark (user_id, document_id)
SELECT v.user_id, d.id
  FROM document d
  JOIN visible_document v ON v.user_id = $1 AND v.client_number_id = d.client_number_id
                         AND v.issue_date = d.issue_date AND v.document_id = d.id
 WHERE d.id = ANY($2::bigint[]) AND d.issue_date >= $3 AND still_visible(v.access_ends_at)
ON CONFLICT ON CONSTRAINT read_mark_once_per_user DO NOTHING
RETURNING document_id
"""
# An issuer sees its own documents, all of them, as its clients get them.
ISSUER_DOCUMENT_SQL = """
SELECT d.id, c.client_code, d.type, d.type_code, d.number, d.issue_date, d.due_date,
       d.currency, d.amount_excl_vat, d.vat_amount, d.amount_incl_vat, d.structured_kind,
       d.pdf_blob_hash IS NOT NULL AS has_pdf, false AS read,
       d.client_number_id, d.pdf_blob_hash, d.xml_blob_hash
  FROM document d JOIN client_number c ON c.id = d.client_number_id
 WHERE d.id = $2 AND c.issuer_id = $1
"""
NO_PDF = N_("This document has no PDF; download its XML instead.")
NO_XML = N_("This document was not published with structured data (XML).")
DUPLICATE_SQL = """
INSERT INTO duplicate_request (document_id, user_id, delivered_at) VALUES ($1, $2, $3)
"""


async def visible_document(reader: Reader, document_id: int) -> DocumentDetail:
    """One document the reader may see (in the window), or `NotFound`."""
    row = await db.fetchrow(VISIBLE_DOCUMENT_SQL, reader.user_id, document_id, reader.scope.oldest)
    if row is None:
        raise NotFound()
    return DocumentDetail(**row)


async def mark_read(reader: Reader, document_ids: list[int]) -> int:
    """Marks the given documents read for this reader; ids it may not see are ignored."""
    if not document_ids:
        return 0
    rows = await db.fetch(MARK_READ_SQL, reader.user_id, document_ids, reader.scope.oldest)
    return len(rows)


async def _authorised(
    reader: Reader, document_id: int, file: str, ip: str, rendering: bool = False
) -> DocumentDetail:
    """The document, if the reader may open this file of it; a person opening the PDF
    marks it read (accounting software fetching it with a personal token is not that
    person reading it: the bold stays). Every opening is recorded, as the token's
    when one was used, in the transaction that authorises it and before
    a byte goes out (one INSERT: opening a PDF is the portal's most frequent request).
    With `rendering`, the PDF of a document that has only XML is the one made from it."""
    async with db.transaction():
        document = await visible_document(reader, document_id)
        if file == "pdf" and not has_pdf(document, rendering):
            raise NotFound(NO_PDF)
        if file == "xml" and document.xml_blob_hash is None:
            raise NotFound(NO_XML)
        if file == "pdf" and reader.token_id is None:
            await mark_read(reader, [document_id])
        await record_opening(reader, document, file, ip)
    return document


async def record_opening(
    reader: Reader, document: DocumentDetail, file: str, ip: str, **detail: object
) -> None:
    """One opening of a document (its PDF, XML, readable page or an embedded file) in
    the account's audit, as the reader came: by session, or by token with its name."""
    await record_audit_event(
        "document_opened",
        actor_id=reader.user_id,
        client_number_id=document.client_number_id,
        document_id=document.id,
        ip=ip,
        detail={"file": file, **detail, **reader.via},
    )


async def open_pdf(
    reader: Reader,
    document_id: int,
    blobs: BlobStore,
    ip: str = "",
    rendering: tuple[Callable[[], Sandbox], str] | None = None,
) -> DocumentFile:
    """The PDF, which marks the document read for a person (not for a token); every
    opening is recorded.
    The issuer's PDF when it sent one; otherwise, given `rendering` (how to reach the
    sandbox, asked only then, and the reader's language), the PDF made from its XML."""
    document = await _authorised(reader, document_id, "pdf", ip, rendering is not None)
    return await document_pdf(document, blobs, rendering)


def has_pdf(document: DocumentDetail, rendering: bool = False) -> bool:
    """Whether `document_pdf` has a PDF to give for it: the issuer's, or when it may
    render one, the one made from the XML."""
    return document.pdf_blob_hash is not None or (rendering and document.xml_blob_hash is not None)


async def document_pdf(
    document: DocumentDetail,
    blobs: BlobStore,
    rendering: tuple[Callable[[], Sandbox], str] | None = None,
) -> DocumentFile:
    """The PDF a document is read as, whoever reads it (a client or its issuer): the
    issuer's own, else (given `rendering`) the one made from its XML. `NotFound` when
    there is none."""
    if document.pdf_blob_hash is None and rendering is not None:
        if document.xml_blob_hash is None:
            raise NotFound(NO_PDF)
        # Imported on first use, as stamping is: the web process need not load ReportLab.
        from iportal.documents.reading.readable import rendered_pdf

        sandbox, language = rendering
        return await rendered_pdf(document, blobs, sandbox(), language)
    if document.pdf_blob_hash is None:
        raise NotFound(NO_PDF)
    content = await blobs.read(document.pdf_blob_hash)
    return DocumentFile(document.file_name("pdf"), content, document.pdf_blob_hash)


async def issuer_document(issuer_id: int, document_id: int) -> DocumentDetail:
    """One of the issuer's own documents; another issuer's is `NotFound`, like none."""
    row = await db.fetchrow(ISSUER_DOCUMENT_SQL, issuer_id, document_id)
    if row is None:
        raise NotFound()
    return DocumentDetail(**row)


async def issued_pdf(
    issuer_id: int,
    document_id: int,
    blobs: BlobStore,
    rendering: tuple[Callable[[], Sandbox], str] | None = None,
) -> DocumentFile:
    """The PDF of one of the issuer's documents, the same its clients get: its own, or
    (given `rendering`) the one made from the XML, byte for byte what a client reading
    in that language gets, so the billing team can check it before anyone asks."""
    return await document_pdf(await issuer_document(issuer_id, document_id), blobs, rendering)


async def issued_xml(issuer_id: int, document_id: int, blobs: BlobStore) -> DocumentFile:
    """The XML of one of the issuer's documents, as published."""
    document = await issuer_document(issuer_id, document_id)
    if document.xml_blob_hash is None:
        raise NotFound(NO_XML)
    content = await blobs.read(document.xml_blob_hash)
    return DocumentFile(document.file_name("xml"), content, document.xml_blob_hash)


async def document_xml(
    reader: Reader, document_id: int, blobs: BlobStore, ip: str = ""
) -> DocumentFile:
    """The Factur-X or UBL XML as published; `NotFound` when the document has none.
    Every opening is recorded."""
    document = await _authorised(reader, document_id, "xml", ip)
    content = await blobs.read(str(document.xml_blob_hash))
    return DocumentFile(document.file_name("xml"), content, document.xml_blob_hash)


async def request_duplicate(
    reader: Reader, document_id: int, blobs: BlobStore, sandbox: Sandbox, ip: str = ""
) -> DocumentFile:
    """A copy of the PDF stamped DUPLICATE with today's date. Once it is stamped, one
    transaction marks the document read, logs the request and records one audit event
    (a duplicate that could not be made is not recorded as given). `InvalidInput` when
    the PDF cannot be stamped within the sandbox's limits."""
    document = await visible_document(reader, document_id)
    if document.pdf_blob_hash is None:
        raise NotFound(NO_PDF)
    original = await blobs.read(document.pdf_blob_hash)
    stamped = await _stamped(sandbox, original, clock.today())
    async with db.transaction():
        await mark_read(reader, [document_id])
        await db.execute(DUPLICATE_SQL, document_id, reader.user_id, clock.utcnow())
        await record_audit_event(
            "duplicate_requested",
            actor_id=reader.user_id,
            client_number_id=document.client_number_id,
            document_id=document_id,
            ip=ip,
            detail=reader.via,
        )
    name = document.file_name("pdf").replace(".pdf", "_DUPLICATE.pdf")
    return DocumentFile(name, stamped, None)


async def _stamped(sandbox: Sandbox, original: bytes, when: date) -> bytes:
    # Imported on first use: the web process needs the function only to name it to a
    # worker, and need not load ReportLab and pypdf before anybody asks for a duplicate.
    from iportal.documents.reading.stamping import stamp_duplicate

    try:
        return await sandbox.run(stamp_duplicate, original, when)
    except TaskTimedOut:
        raise InvalidInput(N_("Stamping the duplicate took too long; it was stopped.")) from None
    except TaskOutOfMemory:
        raise InvalidInput(N_("Stamping the duplicate needed too much memory.")) from None
    except Exception as error:  # pypdf raises many kinds on malformed files
        raise InvalidInput(
            N_("The PDF cannot be stamped as a duplicate: %(reason)s"),
            reason=str(error)[:200] or type(error).__name__,
        ) from None
