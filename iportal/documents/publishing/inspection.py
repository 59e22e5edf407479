"""What a sandboxed worker does with one untrusted file: recognise it by its bytes,
read it with pypdf and the e-invoice reader, merge it with the metadata the issuer
sent, and check every rule that needs no database.

Everything here runs in a worker process (see `documents/sandbox.py`); the result
is a plain picklable `Candidate` or `Rejection`, never an exception. A file that
passes is staged in the blob store here, so that its bytes never travel back to
the recorder (see `documents/storage.py`).
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from iportal.documents.publishing.metadata import DocumentFields, merge_metadata
from iportal.documents.sandbox import TaskOutOfMemory, TaskTimedOut
from iportal.documents.storage import BlobStore, StagedBlob
from iportal.errors import InvalidInput
from iportal.i18n import N_, gettext

if TYPE_CHECKING:
    from pypdf import PdfReader

    from iportal.documents.publishing import einvoice


TOO_LONG = N_("Reading the file took too long; it was stopped.")
DAMAGED_IN_ZIP = N_("The file is damaged in the ZIP archive: %(reason)s")
# What zipfile raises on a damaged member: a bad CRC or header (BadZipFile), a broken
# compressed stream (zlib, bz2, lzma), a cut-off end (EOFError, OSError), a compression
# method it does not know (NotImplementedError, which zipfile raises for it: caught
# here, not a stub of ours), a password (RuntimeError).
ZIP_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
)


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 500


@dataclass(frozen=True)
class Source:
    """Where a file's bytes are: in memory (API), on disk, or inside a ZIP."""

    name: str
    data: bytes | None = None
    path: str | None = None
    member: str | None = None  # with `path`, a ZIP archive

    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        if self.member is not None:
            with zipfile.ZipFile(self.path) as archive:
                return archive.getinfo(self.member).file_size
        return Path(self.path).stat().st_size

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        if self.member is not None:
            try:
                with zipfile.ZipFile(self.path) as archive:
                    return archive.read(self.member)
            except ZIP_DAMAGE as error:
                # This member alone: the archive's other members are read on their own.
                raise InvalidInput(
                    DAMAGED_IN_ZIP, reason=str(error) or type(error).__name__
                ) from None
        return Path(self.path).read_bytes()


@dataclass(frozen=True)
class Job:
    source: Source
    metadata: dict[str, str] | None
    limits: FileLimits
    today: date
    blobs: BlobStore


@dataclass(frozen=True)
class Candidate:
    """A file that passed every check a worker can make, ready to be recorded."""

    name: str
    fields: DocumentFields
    client_code: str | None  # from the metadata: takes precedence
    buyer_references: tuple[str, ...]
    pdf: StagedBlob | None
    page_count: int | None
    xml: StagedBlob | None
    structured_kind: str  # none, factur_x, ubl
    # Embedded files that are not what they claim: the document publishes without them.
    warnings: tuple[Notice, ...] = ()

    @property
    def staged(self) -> list[StagedBlob]:
        return [blob for blob in (self.pdf, self.xml) if blob is not None]


@dataclass(frozen=True)
class Reason:
    """A message inside another one: `%(reason)s` formats it with `str()`, which
    translates and fills it in then, in the language of the message around it."""

    message: str
    params: tuple[tuple[str, object], ...] = ()

    def __str__(self) -> str:
        return gettext(self.message, **dict(self.params))


@dataclass(frozen=True)
class Notice:
    """Something the issuer should know about a file that was published anyway."""

    message: str
    params: Mapping[str, object] = field(default_factory=dict)  # the message's


@dataclass(frozen=True)
class Rejection:
    name: str
    message: str
    params: Mapping[str, object] = field(default_factory=dict)  # the message's


def inspect(job: Job) -> Candidate | Rejection:
    """Check one file; every failure, however it happens, is a `Rejection`."""
    try:
        return _inspect(job)
    except InvalidInput as error:
        return Rejection(job.source.name, error.message, error.params)
    except TaskTimedOut:
        return Rejection(job.source.name, TOO_LONG)
    except (TaskOutOfMemory, MemoryError):
        return Rejection(job.source.name, N_("Reading the file needed too much memory."))
    except OSError as error:
        return Rejection(
            job.source.name,
            N_("The file could not be read: %(reason)s"),
            {"reason": error.strerror or str(error)},
        )


def _inspect(job: Job) -> Candidate:
    size = job.source.size()
    if size == 0:
        raise InvalidInput(N_("The file is empty."))
    if size > job.limits.max_bytes:
        raise InvalidInput(
            N_("The file is %(size)s MB, more than the %(limit)s MB allowed."),
            size=f"{size / 1048576:.1f}",
            limit=f"{job.limits.max_bytes / 1048576:.0f}",
        )
    data = job.source.read()
    # The PDF and XML stack is imported here, in the worker (the sandbox's server has
    # it preloaded): the process that records results never parses a file.
    from iportal.documents.publishing import einvoice

    # XML first: a PDF never starts with "<", while an XML may mention "%PDF-".
    if einvoice.looks_like_xml(data):
        return _from_xml(job, data)
    if einvoice.looks_like_pdf(data):
        return _from_pdf(job, data)
    raise InvalidInput(N_("This is not a PDF: its content does not start like one."))


def _from_pdf(job: Job, data: bytes) -> Candidate:
    from iportal.documents.publishing import einvoice

    reader, page_count = read_pdf(data, job.limits)
    structured = einvoice.read_from_pdf(reader)
    return _candidate(
        job, structured, pdf=data, page_count=page_count, xml=structured.xml if structured else None
    )


def _from_xml(job: Job, data: bytes) -> Candidate:
    from iportal.documents.publishing import einvoice

    structured = einvoice.read_xml(data)
    warnings = [Notice(w.message, w.params) for w in structured.warnings]
    pdf, page_count = structured.pdf, None
    if pdf is not None:
        try:
            _, page_count = read_pdf(pdf, job.limits)
        except InvalidInput as error:
            # The issuer's rendering is an attachment: the invoice is its XML.
            reason = Reason(error.message, tuple(error.params.items()))
            name = structured.pdf_name or "PDF"
            warnings.append(Notice(einvoice.LEFT_OUT, {"name": name, "reason": reason}))
            pdf = None
    return _candidate(
        job, structured, pdf=pdf, page_count=page_count, xml=data, warnings=tuple(warnings)
    )


def read_pdf(data: bytes, limits: FileLimits) -> tuple[PdfReader, int]:
    """Open a PDF with pypdf; refuse it when encrypted, unreadable, empty or too long."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise InvalidInput(N_("The PDF is encrypted; publish it without a password."))
        page_count = len(reader.pages)
    except InvalidInput:
        raise
    except (TaskTimedOut, TaskOutOfMemory, MemoryError):
        raise
    except Exception as error:  # pypdf raises many kinds on malformed files
        raise InvalidInput(
            N_("The PDF cannot be read: %(reason)s"),
            reason=str(error)[:200] or type(error).__name__,
        ) from None
    if page_count == 0:
        raise InvalidInput(N_("The PDF has no pages."))
    if page_count > limits.max_pages:
        raise InvalidInput(
            N_("The PDF has %(pages)s pages, more than the %(limit)s allowed."),
            pages=page_count,
            limit=limits.max_pages,
        )
    return reader, page_count


def _candidate(
    job: Job,
    structured: einvoice.StructuredInvoice | None,
    *,
    pdf: bytes | None,
    page_count: int | None,
    xml: bytes | None,
    warnings: tuple[Notice, ...] = (),
) -> Candidate:
    fields, client_code = merge_metadata(job.metadata, structured, job.today)
    return Candidate(
        name=job.source.name,
        fields=fields,
        client_code=client_code,
        buyer_references=structured.buyer_references if structured else (),
        pdf=job.blobs.stage(pdf) if pdf is not None else None,
        page_count=page_count,
        xml=job.blobs.stage(xml) if xml is not None else None,
        structured_kind=structured.kind if structured else "none",
        warnings=warnings,
    )
