"""What the reader returns, and how a UNTDID 1001 type code makes a credit note.

The amounts are kept exactly as the document states them (a credit note carries
positive amounts, a corrective invoice may be negative); the type says which way
they count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from iportal.documents.publishing.einvoice._attachments import AttachmentWarning
from iportal.documents.publishing.einvoice._values import TYPE_CODE, invalid

StructuredKind = Literal["factur_x", "ubl"]
DocumentType = Literal["invoice", "credit_note"]

# UNTDID 1001 codes of EN 16931 (BT-3), as integers so that "81" and "081" agree.
CREDIT_NOTE_TYPE_CODES = frozenset({81, 83, 261, 262, 296, 308, 381, 396, 420, 458, 532})
INVOICE_TYPE_CODES = frozenset(
    {
        71, 80, 82, 84, 102, 130, 202, 203, 204, 211, 218, 219, 295, 325, 326, 331,
        380, 382, 383, 384, 385, 386, 387, 388, 389, 390, 393, 394, 395, 456, 457,
        527, 553, 575, 623, 633, 751, 780, 817, 870, 875, 876, 877, 935,
    }
)  # fmt: skip


@dataclass(frozen=True)
class StructuredInvoice:
    """The fields of a Factur-X/ZUGFeRD (CII) or UBL invoice or credit note."""

    kind: StructuredKind
    type: DocumentType
    # Always three digits ("381", "081"), the form the document table keeps.
    type_code: str
    number: str
    issue_date: date
    due_date: date | None
    currency: str
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    amount_due: Decimal | None
    # Candidates for the client code or an alias, most specific first; may be empty.
    buyer_references: tuple[str, ...]
    # The XML exactly as published: what `GET /documents/{id}/xml` serves.
    xml: bytes
    # The first PDF embedded in a UBL document (its rendering); a Factur-X PDF is
    # the file itself, which the caller already holds.
    pdf: bytes | None = None
    # The embedded PDF's declared name, to name it should it prove unreadable.
    pdf_name: str | None = None
    # Embedded files that are not what they claim: left out, the document publishes.
    warnings: tuple[AttachmentWarning, ...] = ()
    # The name of the XML inside a Factur-X/ZUGFeRD PDF ("factur-x.xml").
    attachment_name: str | None = None


def document_type(raw_code: str) -> tuple[DocumentType, str]:
    """("credit_note", "381") for "381"; refuses a code that is neither kind."""
    code = raw_code.strip()
    if not (code.isascii() and code.isdigit() and len(code) <= 3):
        raise invalid(TYPE_CODE, raw_code)
    value = int(code)
    if value in CREDIT_NOTE_TYPE_CODES:
        return "credit_note", f"{value:03d}"
    if value in INVOICE_TYPE_CODES:
        return "invoice", f"{value:03d}"
    raise invalid(TYPE_CODE, raw_code)
