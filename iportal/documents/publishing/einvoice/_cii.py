"""UN/CEFACT Cross Industry Invoice (CII D16B): the XML of Factur-X and ZUGFeRD 2.x.

Read along the EN 16931 paths, which every profile from MINIMUM to EXTENDED
shares for the fields kept here; the BT numbers in comments are EN 16931's.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from iportal.documents.publishing.einvoice._model import StructuredInvoice, document_type
from iportal.documents.publishing.einvoice._values import (
    AMOUNT_DUE,
    AMOUNT_EXCL_VAT,
    AMOUNT_INCL_VAT,
    CURRENCY,
    DUE_DATE,
    ISSUE_DATE,
    NUMBER,
    TYPE_CODE,
    Phrase,
    amount,
    currency,
    date_102,
    invalid,
    missing,
    optional_amount,
    required,
    scheme_qualified,
    text_of,
    unique,
    vat_total,
)

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
NS = {
    "rsm": RSM,
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
ROOT_TAG = f"{{{RSM}}}CrossIndustryInvoice"

_DOCUMENT = "rsm:ExchangedDocument/"
_AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
_SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/"
_TOTALS = _SETTLEMENT + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
_BUYER = _AGREEMENT + "ram:BuyerTradeParty/"


def read_cii(root: etree._Element, xml: bytes) -> StructuredInvoice:
    """The fields of a CII invoice or credit note whose root is `root`."""
    doc_type, type_code = document_type(
        required(_text(root, _DOCUMENT + "ram:TypeCode"), TYPE_CODE)
    )
    document_currency = currency(
        required(_text(root, _SETTLEMENT + "ram:InvoiceCurrencyCode"), CURRENCY)
    )
    return StructuredInvoice(
        kind="factur_x",
        type=doc_type,
        type_code=type_code,
        number=required(_text(root, _DOCUMENT + "ram:ID"), NUMBER),  # BT-1
        issue_date=_issue_date(root),
        due_date=_due_date(root),
        currency=document_currency,
        amount_excl_vat=_amount(root, "ram:TaxBasisTotalAmount", AMOUNT_EXCL_VAT),  # BT-109
        vat_amount=vat_total(root.findall(_TOTALS + "ram:TaxTotalAmount", NS), document_currency),
        amount_incl_vat=_amount(root, "ram:GrandTotalAmount", AMOUNT_INCL_VAT),  # BT-112
        amount_due=optional_amount(_text(root, _TOTALS + "ram:DuePayableAmount"), AMOUNT_DUE),
        buyer_references=buyer_references(root),
        xml=xml,
    )


def buyer_references(root: etree._Element) -> tuple[str, ...]:
    """BT-10 buyer reference, then the buyer's identifiers (BT-46, BT-49, BT-47, BT-48)."""
    return unique(
        [
            _text(root, _AGREEMENT + "ram:BuyerReference"),
            *(scheme_qualified(e) for e in root.findall(_BUYER + "ram:ID", NS)),
            *(scheme_qualified(e) for e in root.findall(_BUYER + "ram:GlobalID", NS)),
            *(
                scheme_qualified(e)
                for e in root.findall(_BUYER + "ram:URIUniversalCommunication/ram:URIID", NS)
            ),
            *(
                scheme_qualified(e)
                for e in root.findall(_BUYER + "ram:SpecifiedLegalOrganization/ram:ID", NS)
            ),
            # A VAT number stays bare (FR19787878784), the way people write it.
            *(text_of(e) for e in root.findall(_BUYER + "ram:SpecifiedTaxRegistration/ram:ID", NS)),
        ]
    )


def _issue_date(root: etree._Element) -> date:
    element = root.find(_DOCUMENT + "ram:IssueDateTime/udt:DateTimeString", NS)  # BT-2
    return _date(element, ISSUE_DATE)


def _due_date(root: etree._Element) -> date | None:
    # BT-9; several payment terms may each carry one: the first one written counts.
    path = _SETTLEMENT + "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    for element in root.findall(path, NS):
        if text_of(element) is not None:
            return _date(element, DUE_DATE)
    return None


def _date(element: etree._Element | None, field: Phrase) -> date:
    if element is None:
        raise missing(field)
    raw = required(text_of(element), field)
    # 102 (CCYYMMDD) is the only format EN 16931 allows for a date.
    if element.get("format", "102").strip() != "102":
        raise invalid(field, raw)
    return date_102(raw, field)


def _amount(root: etree._Element, name: str, field: Phrase) -> Decimal:
    return amount(required(_text(root, _TOTALS + name), field), field)


def _text(root: etree._Element, path: str) -> str | None:
    return text_of(root.find(path, NS))
