"""The readable view of a structured document: its UBL or CII XML as a person reads it.

`read_invoice` parses the stored XML with publishing's hardened parser (bounded size,
no DOCTYPE, no entity ever expanded) and returns a `ReadableInvoice`; the HTML page and
`render_pdf` show the same tree, with codes as words and amounts in the reader's
locale. The XML is untrusted even once published: both run in the sandbox.
"""

from __future__ import annotations

from iportal.documents.einvoice_view._cii import read_cii
from iportal.documents.einvoice_view._model import (
    AllowanceCharge,
    Attachment,
    Line,
    Party,
    PaymentMeans,
    ReadableInvoice,
    References,
    Totals,
    VatBreakdown,
)
from iportal.documents.einvoice_view._pdf import RENDERING_MARK, render_pdf
from iportal.documents.einvoice_view._shown import (
    ShownAttachment,
    ShownInvoice,
    ShownLine,
    ShownParty,
    shown,
)
from iportal.documents.einvoice_view._ubl import read_ubl
from iportal.documents.publishing.einvoice import parse_xml
from iportal.errors import InvalidInput
from iportal.i18n import N_

CII_ROOT = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice"
UBL_ROOTS = (
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote",
)
NOT_AN_EINVOICE = N_(
    "This XML is neither a UBL invoice or credit note nor a CII (Factur-X) invoice."
)


def read_invoice(xml: bytes) -> ReadableInvoice:
    """The readable invoice in a UBL or CII document; `InvalidInput` for any other XML.
    CPU-bound: call it in the sandbox."""
    root = parse_xml(xml)
    if root.tag == CII_ROOT:
        return read_cii(root)
    if root.tag in UBL_ROOTS:
        return read_ubl(root)
    raise InvalidInput(NOT_AN_EINVOICE)


def view_of_xml(xml: bytes, language: str) -> ShownInvoice:
    """The page's content for the e-invoice in `xml`, in `language`."""
    return shown(read_invoice(xml), language)


def embedded_files(xml: bytes) -> list[tuple[str, str, bytes]]:
    """(declared name, declared type, bytes) of each file embedded in a UBL or CII
    e-invoice (UBL `EmbeddedDocumentBinaryObject`, CII `AttachmentBinaryObject`) whose
    content decodes, in the order the page lists and numbers them. CPU-bound: call it
    in the sandbox."""
    return [
        (attachment.name(position), attachment.declared_type, attachment.content)
        for position, attachment in enumerate(read_invoice(xml).attachments, start=1)
        if attachment.content is not None
    ]


def pdf_of_xml(xml: bytes, language: str) -> bytes:
    """The PDF made from the e-invoice in `xml`, in `language`."""
    return render_pdf(view_of_xml(xml, language), language)


__all__ = [
    "RENDERING_MARK",
    "AllowanceCharge",
    "Attachment",
    "Line",
    "Party",
    "PaymentMeans",
    "ReadableInvoice",
    "References",
    "ShownAttachment",
    "ShownInvoice",
    "ShownLine",
    "ShownParty",
    "Totals",
    "VatBreakdown",
    "embedded_files",
    "pdf_of_xml",
    "read_invoice",
    "render_pdf",
    "shown",
    "view_of_xml",
]
