"""The CII (or UBL) XML embedded in a Factur-X, ZUGFeRD or XRechnung PDF.

pypdf reads untrusted PDFs with its own bounds on decompression, but raises
almost any exception type on a damaged file; those types are caught here and
nowhere else. Other exceptions (a worker's time-out, MemoryError) pass through.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import zlib
from collections.abc import Callable
from typing import TypeVar

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from iportal.documents.publishing.einvoice._xml import MAX_XML_BYTES, TOO_LARGE
from iportal.errors import InvalidInput
from iportal.i18n import N_

# In order of preference when a PDF carries more than one, compared case-blind
# (ZUGFeRD 1 wrote "ZUGFeRD-invoice.xml").
XML_ATTACHMENT_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
UNREADABLE_PDF = N_("The PDF could not be read; it may be damaged or protected by a password.")
# A PDF may have a little text before its header; readers look this far.
PDF_HEADER_WINDOW = 1024
# Control bytes other than whitespace: what a binary container's header is made of.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# What pypdf raises on malformed input (RuntimeError covers RecursionError and the
# features pypdf does not implement).
_PDF_ERRORS = (
    PyPdfError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,
    AssertionError,
    RuntimeError,
    EOFError,
    struct.error,
    zlib.error,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


def looks_like_pdf(data: bytes) -> bool:
    """A PDF starts as one: `%PDF-` within the first 1,024 bytes, as readers require,
    with nothing but text before it (a mail or HTTP header left in front). A ZIP, a TAR
    or any other file that merely holds a PDF has binary bytes before it, and is not one."""
    start = data.find(b"%PDF-", 0, PDF_HEADER_WINDOW)
    return start >= 0 and not _BINARY.search(data, 0, start)


def open_pdf(data: bytes) -> PdfReader:
    return _reading(lambda: PdfReader(io.BytesIO(data)))


def embedded_xml(reader: PdfReader) -> tuple[str, bytes] | None:
    """(attachment name, XML bytes) of the e-invoice in the PDF; None when it has none."""
    found = _reading(lambda: _find_attachment(reader))
    if found is not None and len(found[1]) > MAX_XML_BYTES:
        raise InvalidInput(TOO_LARGE, limit=MAX_XML_BYTES // (1024 * 1024))
    return found


def _find_attachment(reader: PdfReader) -> tuple[str, bytes] | None:
    if reader.is_encrypted:
        # Most protected PDFs open with the empty user password; one that stays
        # locked fails below and is reported as unreadable.
        reader.decrypt("")
    # Only the names are read here: pypdf decodes an attachment when asked for it.
    attachments = reader.attachments
    by_name: dict[str, str] = {}
    for name in attachments:
        by_name.setdefault(name.strip().lower(), name)
    for wanted in XML_ATTACHMENT_NAMES:
        if wanted in by_name:
            name = by_name[wanted]
            return name, bytes(attachments[name][0])
    return None


def _reading(read: Callable[[], T]) -> T:
    try:
        return read()
    except _PDF_ERRORS as error:
        log.info("unreadable PDF: %s: %s", type(error).__name__, error)
        raise InvalidInput(UNREADABLE_PDF) from None
