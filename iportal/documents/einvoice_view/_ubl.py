"""A UBL 2.1 Invoice or CreditNote (Peppol BIS Billing 3.0) as a readable invoice.

Paths follow EN 16931's UBL binding; the BT and BG numbers in comments are its own.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

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
from iportal.documents.einvoice_view._values import (
    attribute,
    decimal,
    embedded,
    iso_date,
    long_text,
    present,
    qualified,
    text,
)

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
CREDIT_NOTE_TAG = "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"
_TOTALS = "cac:LegalMonetaryTotal/cbc:"


def _t(element: etree._Element, path: str) -> str | None:
    return text(element.find(path, NS))


def _d(element: etree._Element, path: str) -> Decimal | None:
    return decimal(_t(element, path))


def read_ubl(root: etree._Element) -> ReadableInvoice:
    credit_note = root.tag == CREDIT_NOTE_TAG
    currency = _t(root, "cbc:DocumentCurrencyCode")
    accounting_currency = _t(root, "cbc:TaxCurrencyCode")
    line_tag = "cac:CreditNoteLine" if credit_note else "cac:InvoiceLine"
    vat, vat_accounting, breakdown = _vat(root, currency)
    return ReadableInvoice(
        syntax="ubl",
        credit_note=credit_note,
        type_code=_t(root, "cbc:CreditNoteTypeCode" if credit_note else "cbc:InvoiceTypeCode"),
        number=_t(root, "cbc:ID"),
        issue_date=iso_date(_t(root, "cbc:IssueDate")),
        due_date=iso_date(
            _t(root, "cbc:DueDate") or _t(root, "cac:PaymentMeans/cbc:PaymentDueDate")
        ),
        tax_point_date=iso_date(_t(root, "cbc:TaxPointDate")),
        period=_period(root),
        delivery_date=iso_date(_t(root, "cac:Delivery/cbc:ActualDeliveryDate")),
        currency=currency,
        accounting_currency=accounting_currency,
        seller=_party(root.find("cac:AccountingSupplierParty/cac:Party", NS)) or Party(),
        buyer=_party(root.find("cac:AccountingCustomerParty/cac:Party", NS)) or Party(),
        payee=_party(root.find("cac:PayeeParty", NS)),
        references=_references(root),
        lines=tuple(_line(e, credit_note) for e in root.findall(line_tag, NS)),
        allowances_charges=tuple(_allowance(e) for e in root.findall("cac:AllowanceCharge", NS)),
        vat_breakdown=breakdown,
        totals=Totals(
            lines=_d(root, _TOTALS + "LineExtensionAmount"),
            allowances=_d(root, _TOTALS + "AllowanceTotalAmount"),
            charges=_d(root, _TOTALS + "ChargeTotalAmount"),
            excl_vat=_d(root, _TOTALS + "TaxExclusiveAmount"),
            vat=vat,
            incl_vat=_d(root, _TOTALS + "TaxInclusiveAmount"),
            prepaid=_d(root, _TOTALS + "PrepaidAmount"),
            rounding=_d(root, _TOTALS + "PayableRoundingAmount"),
            payable=_d(root, _TOTALS + "PayableAmount"),
            vat_accounting=vat_accounting,
        ),
        payment_means=tuple(_means(e) for e in root.findall("cac:PaymentMeans", NS)),
        payment_reference=next(
            filter(None, (text(e) for e in root.findall("cac:PaymentMeans/cbc:PaymentID", NS))),
            None,
        ),
        payment_terms=long_text(root.find("cac:PaymentTerms/cbc:Note", NS)),
        notes=present(*(long_text(e) for e in root.findall("cbc:Note", NS))),
        attachments=tuple(
            _attachment(e) for e in root.findall("cac:AdditionalDocumentReference", NS)
        ),
    )


def _period(element: etree._Element) -> tuple[date | None, date | None]:
    return (
        iso_date(_t(element, "cac:InvoicePeriod/cbc:StartDate")),
        iso_date(_t(element, "cac:InvoicePeriod/cbc:EndDate")),
    )


def _party(party: etree._Element | None) -> Party | None:
    if party is None:
        return None
    legal_name = _t(party, "cac:PartyLegalEntity/cbc:RegistrationName")
    trading_name = _t(party, "cac:PartyName/cbc:Name")
    vat_number = None
    for scheme in party.findall("cac:PartyTaxScheme", NS):
        # A seller's tax registration that is not VAT (BT-32) is not its VAT number.
        if (_t(scheme, "cac:TaxScheme/cbc:ID") or "VAT").upper() == "VAT":
            vat_number = vat_number or _t(scheme, "cbc:CompanyID")
    return Party(
        name=legal_name or trading_name or _t(party, "cac:Contact/cbc:Name"),
        trading_name=trading_name if legal_name and trading_name != legal_name else None,
        address=_address(party.find("cac:PostalAddress", NS)),
        vat_number=vat_number,
        enterprise_number=qualified(party.find("cac:PartyLegalEntity/cbc:CompanyID", NS))
        or qualified(party.find("cac:PartyIdentification/cbc:ID", NS)),
        endpoint=qualified(party.find("cbc:EndpointID", NS)),
        contact=present(
            _t(party, "cac:Contact/cbc:Name"),
            _t(party, "cac:Contact/cbc:Telephone"),
            _t(party, "cac:Contact/cbc:ElectronicMail"),
        ),
    )


def _address(address: etree._Element | None) -> tuple[str, ...]:
    if address is None:
        return ()
    town = " ".join(present(_t(address, "cbc:PostalZone"), _t(address, "cbc:CityName")))
    return present(
        _t(address, "cbc:StreetName"),
        _t(address, "cbc:AdditionalStreetName"),
        _t(address, "cac:AddressLine/cbc:Line"),
        town or None,
        _t(address, "cbc:CountrySubentity"),
        _t(address, "cac:Country/cbc:IdentificationCode"),
    )


def _references(root: etree._Element) -> References:
    return References(
        buyer=_t(root, "cbc:BuyerReference"),
        order=_t(root, "cac:OrderReference/cbc:ID"),
        sales_order=_t(root, "cac:OrderReference/cbc:SalesOrderID"),
        contract=_t(root, "cac:ContractDocumentReference/cbc:ID"),
        project=_t(root, "cac:ProjectReference/cbc:ID"),
        despatch=_t(root, "cac:DespatchDocumentReference/cbc:ID"),
        preceding=present(
            *(
                text(e)
                for e in root.findall(
                    "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", NS
                )
            )
        ),
    )


def _line(line: etree._Element, credit_note: bool) -> Line:
    quantity = line.find("cbc:CreditedQuantity" if credit_note else "cbc:InvoicedQuantity", NS)
    return Line(
        id=_t(line, "cbc:ID"),
        name=_t(line, "cac:Item/cbc:Name"),
        description=long_text(line.find("cac:Item/cbc:Description", NS)),
        quantity=decimal(text(quantity)),
        unit_code=attribute(quantity, "unitCode"),
        unit_price=_d(line, "cac:Price/cbc:PriceAmount"),
        base_quantity=_d(line, "cac:Price/cbc:BaseQuantity"),
        net_amount=_d(line, "cbc:LineExtensionAmount"),
        vat_category=_t(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
        vat_rate=_d(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"),
        allowances_charges=tuple(_allowance(e) for e in line.findall("cac:AllowanceCharge", NS)),
        period=_period(line),
        note=long_text(line.find("cbc:Note", NS)),
        seller_item_id=_t(line, "cac:Item/cac:SellersItemIdentification/cbc:ID"),
    )


def _allowance(element: etree._Element) -> AllowanceCharge:
    return AllowanceCharge(
        is_charge=(_t(element, "cbc:ChargeIndicator") or "").lower() == "true",
        amount=_d(element, "cbc:Amount"),
        base=_d(element, "cbc:BaseAmount"),
        percent=_d(element, "cbc:MultiplierFactorNumeric"),
        reason=_t(element, "cbc:AllowanceChargeReason")
        or _t(element, "cbc:AllowanceChargeReasonCode"),
        vat_category=_t(element, "cac:TaxCategory/cbc:ID"),
        vat_rate=_d(element, "cac:TaxCategory/cbc:Percent"),
    )


def _vat(
    root: etree._Element, currency: str | None
) -> tuple[Decimal | None, Decimal | None, tuple[VatBreakdown, ...]]:
    """(VAT total, VAT in the accounting currency, breakdown): a UBL document writes a
    TaxTotal per currency, the one in the document's currency with the breakdown."""
    vat = vat_accounting = None
    breakdown: list[VatBreakdown] = []
    for total in root.findall("cac:TaxTotal", NS):
        amount_element = total.find("cbc:TaxAmount", NS)
        in_currency = amount_element is None or amount_element.get("currencyID") in (None, currency)
        amount = decimal(text(amount_element))
        if in_currency and vat is None:
            vat = amount
        elif not in_currency:
            vat_accounting = amount
        for sub in total.findall("cac:TaxSubtotal", NS):
            breakdown.append(
                VatBreakdown(
                    category=_t(sub, "cac:TaxCategory/cbc:ID"),
                    rate=_d(sub, "cac:TaxCategory/cbc:Percent"),
                    taxable=_d(sub, "cbc:TaxableAmount"),
                    vat=_d(sub, "cbc:TaxAmount"),
                    exemption_reason=_t(sub, "cac:TaxCategory/cbc:TaxExemptionReason")
                    or _t(sub, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
                )
            )
    return vat, vat_accounting, tuple(breakdown)


def _means(element: etree._Element) -> PaymentMeans:
    return PaymentMeans(
        code=_t(element, "cbc:PaymentMeansCode"),
        iban=_t(element, "cac:PayeeFinancialAccount/cbc:ID"),
        account_name=_t(element, "cac:PayeeFinancialAccount/cbc:Name"),
        bic=_t(element, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"),
        mandate=_t(element, "cac:PaymentMandate/cbc:ID"),
        card=_t(element, "cac:CardAccount/cbc:PrimaryAccountNumberID"),
    )


def _attachment(element: etree._Element) -> Attachment:
    binary = element.find("cac:Attachment/cbc:EmbeddedDocumentBinaryObject", NS)
    return Attachment(
        id=_t(element, "cbc:ID"),
        description=_t(element, "cbc:DocumentDescription"),
        filename=attribute(binary, "filename"),
        mime_code=attribute(binary, "mimeCode"),
        uri=_t(element, "cac:Attachment/cac:ExternalReference/cbc:URI"),
        content=embedded(binary),
    )
