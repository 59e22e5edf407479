"""UBL 2.1 `Invoice` and `CreditNote`, as Peppol BIS Billing 3.0 and XRechnung use them.

The BT numbers in comments are EN 16931's. A UBL document may carry its PDF
rendering as a base64 attachment; the first one marked application/pdf is it
(`_attachments`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from iportal.documents.publishing.einvoice._attachments import (
    PDF,
    Attachment,
    attachment_warnings,
    embedded_attachments,
)
from iportal.documents.publishing.einvoice._model import (
    DocumentType,
    StructuredInvoice,
    document_type,
)
from iportal.documents.publishing.einvoice._values import (
    AMOUNT_DUE,
    AMOUNT_EXCL_VAT,
    AMOUNT_INCL_VAT,
    CURRENCY,
    DUE_DATE,
    ISSUE_DATE,
    NUMBER,
    Phrase,
    amount,
    currency,
    iso_date,
    optional_amount,
    required,
    scheme_qualified,
    text_of,
    unique,
    vat_total,
)
from iportal.errors import InvalidInput
from iportal.i18n import N_

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
INVOICE_TAG = f"{{{INVOICE_NS}}}Invoice"
CREDIT_NOTE_TAG = f"{{{CREDIT_NOTE_NS}}}CreditNote"
ROOT_TAGS = (INVOICE_TAG, CREDIT_NOTE_TAG)

CREDIT_NOTE_WITH_INVOICE_CODE = N_(
    "The e-invoice is a credit note, but its type code “%(value)s” is the code of an invoice."
)

_TOTALS = "cac:LegalMonetaryTotal/"
_BUYER = "cac:AccountingCustomerParty/cac:Party/"


def read_ubl(root: etree._Element, xml: bytes) -> StructuredInvoice:
    """The fields of a UBL invoice or credit note whose root is `root`."""
    doc_type, type_code = _type(root)
    attachments = embedded_attachments(root)
    rendering = _rendering(attachments)
    document_currency = currency(required(_text(root, "cbc:DocumentCurrencyCode"), CURRENCY))
    return StructuredInvoice(
        kind="ubl",
        type=doc_type,
        type_code=type_code,
        number=required(_text(root, "cbc:ID"), NUMBER),  # BT-1
        issue_date=iso_date(required(_text(root, "cbc:IssueDate"), ISSUE_DATE), ISSUE_DATE),
        due_date=_due_date(root),
        currency=document_currency,
        amount_excl_vat=_amount(root, "cbc:TaxExclusiveAmount", AMOUNT_EXCL_VAT),  # BT-109
        vat_amount=vat_total(root.findall("cac:TaxTotal/cbc:TaxAmount", NS), document_currency),
        amount_incl_vat=_amount(root, "cbc:TaxInclusiveAmount", AMOUNT_INCL_VAT),  # BT-112
        amount_due=optional_amount(_text(root, _TOTALS + "cbc:PayableAmount"), AMOUNT_DUE),
        buyer_references=buyer_references(root),
        xml=xml,
        pdf=rendering.content if rendering else None,
        pdf_name=rendering.name if rendering else None,
        warnings=attachment_warnings(attachments),
    )


def buyer_references(root: etree._Element) -> tuple[str, ...]:
    """BT-10 buyer reference, then the buyer's identifiers (BT-46, BT-49, BT-47, BT-48).

    The party identification comes before the electronic address: an address may
    be shared (an accounting firm's inbox), the identifier names this buyer."""
    return unique(
        [
            _text(root, "cbc:BuyerReference"),
            *(
                scheme_qualified(e)
                for e in root.findall(_BUYER + "cac:PartyIdentification/cbc:ID", NS)
            ),
            *(scheme_qualified(e) for e in root.findall(_BUYER + "cbc:EndpointID", NS)),
            *(
                scheme_qualified(e)
                for e in root.findall(_BUYER + "cac:PartyLegalEntity/cbc:CompanyID", NS)
            ),
            # A VAT number stays bare (SE556677889901), the way people write it.
            *(text_of(e) for e in root.findall(_BUYER + "cac:PartyTaxScheme/cbc:CompanyID", NS)),
        ]
    )


def _rendering(attachments: list[Attachment]) -> Attachment | None:
    """The first attachment marked application/pdf, when it is one: the issuer's
    rendering. A false one leaves the document without a PDF (it is named in a warning)."""
    first = next((a for a in attachments if a.mime_code == PDF), None)
    return first if first is not None and first.problem is None else None


def _type(root: etree._Element) -> tuple[DocumentType, str]:
    if root.tag == CREDIT_NOTE_TAG:
        # BT-3 is optional in UBL itself; a CreditNote without one is a plain credit note.
        raw = _text(root, "cbc:CreditNoteTypeCode") or "381"
        doc_type, type_code = document_type(raw)
        if doc_type != "credit_note":
            raise InvalidInput(CREDIT_NOTE_WITH_INVOICE_CODE, value=raw)
        return doc_type, type_code
    # An Invoice is classified by its code, as CII does: 381 there is a credit note too.
    return document_type(_text(root, "cbc:InvoiceTypeCode") or "380")


def _due_date(root: etree._Element) -> date | None:
    # BT-9: cbc:DueDate on an Invoice, the payment means' due date on a CreditNote.
    means = [text_of(e) for e in root.findall("cac:PaymentMeans/cbc:PaymentDueDate", NS)]
    raw = _text(root, "cbc:DueDate") or next(filter(None, means), None)
    return None if raw is None else iso_date(raw, DUE_DATE)


def _amount(root: etree._Element, name: str, field: Phrase) -> Decimal:
    return amount(required(_text(root, _TOTALS + name), field), field)


def _text(root: etree._Element, path: str) -> str | None:
    return text_of(root.find(path, NS))
