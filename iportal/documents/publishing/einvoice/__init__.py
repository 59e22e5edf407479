"""Structured e-invoices: Factur-X/ZUGFeRD PDFs, bare CII XML and UBL (Peppol BIS 3.0).

`read_structured` takes the bytes a publisher sends and returns the document's
fields, its buyer references (to match a client code or alias exactly) and the
XML as published; None for a plain PDF. Every malformed or unsafe input, PDF or
XML, becomes `InvalidInput` naming what is wrong.
"""

from iportal.documents.publishing.einvoice._attachments import (
    LEFT_OUT,
    Attachment,
    AttachmentWarning,
    embedded_attachments,
)
from iportal.documents.publishing.einvoice._model import (
    CREDIT_NOTE_TYPE_CODES,
    INVOICE_TYPE_CODES,
    DocumentType,
    StructuredInvoice,
    StructuredKind,
    document_type,
)
from iportal.documents.publishing.einvoice._pdf import XML_ATTACHMENT_NAMES, looks_like_pdf
from iportal.documents.publishing.einvoice._read import (
    read_from_pdf,
    read_pdf,
    read_structured,
    read_xml,
)
from iportal.documents.publishing.einvoice._xml import MAX_XML_BYTES, looks_like_xml, parse_xml

__all__ = [
    "CREDIT_NOTE_TYPE_CODES",
    "INVOICE_TYPE_CODES",
    "LEFT_OUT",
    "MAX_XML_BYTES",
    "XML_ATTACHMENT_NAMES",
    "Attachment",
    "AttachmentWarning",
    "DocumentType",
    "StructuredInvoice",
    "StructuredKind",
    "document_type",
    "embedded_attachments",
    "looks_like_pdf",
    "looks_like_xml",
    "parse_xml",
    "read_from_pdf",
    "read_pdf",
    "read_structured",
    "read_xml",
]
