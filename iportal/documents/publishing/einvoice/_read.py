"""Which reader a file needs: a PDF may carry an e-invoice, an XML must be one."""

from __future__ import annotations

from dataclasses import replace

from pypdf import PdfReader

from iportal.documents.publishing.einvoice import _cii, _ubl
from iportal.documents.publishing.einvoice._model import StructuredInvoice
from iportal.documents.publishing.einvoice._pdf import embedded_xml, looks_like_pdf, open_pdf
from iportal.documents.publishing.einvoice._xml import looks_like_xml, parse_xml
from iportal.errors import InvalidInput
from iportal.i18n import N_

NEITHER_PDF_NOR_XML = N_("This file is neither a PDF nor an XML e-invoice.")
NOT_AN_EINVOICE = N_(
    "This XML is neither a UBL invoice or credit note nor a CII (Factur-X) invoice."
)


def read_structured(data: bytes) -> StructuredInvoice | None:
    """The e-invoice in `data`: a Factur-X/ZUGFeRD PDF, a CII XML or a UBL XML.

    None for a PDF that carries no e-invoice (it is published with its metadata);
    `InvalidInput` for anything malformed or unsafe, and for what is neither PDF
    nor XML. CPU-bound: call it off the event loop."""
    # XML first: a PDF never starts with "<", while an XML may mention "%PDF-".
    if looks_like_xml(data):
        return read_xml(data)
    if looks_like_pdf(data):
        return read_pdf(data)
    raise InvalidInput(NEITHER_PDF_NOR_XML)


def read_pdf(pdf: bytes) -> StructuredInvoice | None:
    """The e-invoice embedded in a Factur-X/ZUGFeRD PDF; None for a plain PDF."""
    return read_from_pdf(open_pdf(pdf))


def read_from_pdf(reader: PdfReader) -> StructuredInvoice | None:
    """As `read_pdf`, for a PDF the caller has opened already (to count its pages)."""
    found = embedded_xml(reader)
    if found is None:
        return None
    name, xml = found
    return replace(read_xml(xml), attachment_name=name)


def read_xml(xml: bytes) -> StructuredInvoice:
    """A bare CII or UBL e-invoice; `InvalidInput` for any other XML."""
    root = parse_xml(xml)
    if root.tag == _cii.ROOT_TAG:
        return _cii.read_cii(root, xml)
    if root.tag in _ubl.ROOT_TAGS:
        return _ubl.read_ubl(root, xml)
    raise InvalidInput(NOT_AN_EINVOICE)
