"""A CII (Factur-X, ZUGFeRD 2.x) invoice as a readable invoice.

Paths follow EN 16931's CII D16B binding, which every profile shares; a BASIC or
MINIMUM document simply has fewer of them. BT and BG numbers are EN 16931's.
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
    date_102,
    decimal,
    embedded,
    long_text,
    present,
    qualified,
    text,
)
from iportal.documents.publishing.einvoice import CREDIT_NOTE_TYPE_CODES

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
_DOC = "rsm:ExchangedDocument/"
_TRADE = "rsm:SupplyChainTradeTransaction/"
_AGREEMENT = _TRADE + "ram:ApplicableHeaderTradeAgreement/"
_DELIVERY = _TRADE + "ram:ApplicableHeaderTradeDelivery/"
_SETTLEMENT = _TRADE + "ram:ApplicableHeaderTradeSettlement/"
_SUM = _SETTLEMENT + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
_DATE = "/udt:DateTimeString"


def _t(element: etree._Element, path: str) -> str | None:
    return text(element.find(path, NS))


def _d(element: etree._Element, path: str) -> Decimal | None:
    return decimal(_t(element, path))


def _day(element: etree._Element, path: str) -> date | None:
    return date_102(_t(element, path + _DATE))


def read_cii(root: etree._Element) -> ReadableInvoice:
    type_code = _t(root, _DOC + "ram:TypeCode")
    currency = _t(root, _SETTLEMENT + "ram:InvoiceCurrencyCode")
    vat, vat_accounting = _vat_totals(root, currency)
    return ReadableInvoice(
        syntax="cii",
        credit_note=bool(
            type_code and type_code.isdigit() and int(type_code) in CREDIT_NOTE_TYPE_CODES
        ),
        type_code=type_code,
        number=_t(root, _DOC + "ram:ID"),
        issue_date=_day(root, _DOC + "ram:IssueDateTime"),
        due_date=_day(root, _SETTLEMENT + "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime"),
        tax_point_date=_day(root, _SETTLEMENT + "ram:ApplicableTradeTax/ram:TaxPointDate"),
        period=_period(root.find(_SETTLEMENT + "ram:BillingSpecifiedPeriod", NS)),
        delivery_date=_day(
            root, _DELIVERY + "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime"
        ),
        currency=currency,
        accounting_currency=_t(root, _SETTLEMENT + "ram:TaxCurrencyCode"),
        seller=_party(root.find(_AGREEMENT + "ram:SellerTradeParty", NS)) or Party(),
        buyer=_party(root.find(_AGREEMENT + "ram:BuyerTradeParty", NS)) or Party(),
        payee=_party(root.find(_SETTLEMENT + "ram:PayeeTradeParty", NS)),
        references=_references(root),
        lines=tuple(
            _line(e) for e in root.findall(_TRADE + "ram:IncludedSupplyChainTradeLineItem", NS)
        ),
        allowances_charges=tuple(
            _allowance(e)
            for e in root.findall(_SETTLEMENT + "ram:SpecifiedTradeAllowanceCharge", NS)
        ),
        vat_breakdown=tuple(
            _breakdown(e) for e in root.findall(_SETTLEMENT + "ram:ApplicableTradeTax", NS)
        ),
        totals=Totals(
            lines=_d(root, _SUM + "LineTotalAmount"),
            allowances=_d(root, _SUM + "AllowanceTotalAmount"),
            charges=_d(root, _SUM + "ChargeTotalAmount"),
            excl_vat=_d(root, _SUM + "TaxBasisTotalAmount"),
            vat=vat,
            incl_vat=_d(root, _SUM + "GrandTotalAmount"),
            prepaid=_d(root, _SUM + "TotalPrepaidAmount"),
            rounding=_d(root, _SUM + "RoundingAmount"),
            payable=_d(root, _SUM + "DuePayableAmount"),
            vat_accounting=vat_accounting,
        ),
        payment_means=tuple(
            _means(e, root)
            for e in root.findall(_SETTLEMENT + "ram:SpecifiedTradeSettlementPaymentMeans", NS)
        ),
        payment_reference=_t(root, _SETTLEMENT + "ram:PaymentReference"),
        payment_terms=long_text(
            root.find(_SETTLEMENT + "ram:SpecifiedTradePaymentTerms/ram:Description", NS)
        ),
        notes=present(
            *(long_text(e) for e in root.findall(_DOC + "ram:IncludedNote/ram:Content", NS))
        ),
        attachments=tuple(
            _attachment(e)
            for e in root.findall(_AGREEMENT + "ram:AdditionalReferencedDocument", NS)
            # Type 916 is a supporting document; 50 and 130 are references, not files.
            if (_t(e, "ram:TypeCode") or "916") == "916"
        ),
    )


def _period(period: etree._Element | None) -> tuple[date | None, date | None]:
    if period is None:
        return (None, None)
    return _day(period, "ram:StartDateTime"), _day(period, "ram:EndDateTime")


def _party(party: etree._Element | None) -> Party | None:
    if party is None:
        return None
    vat_number = None
    for registration in party.findall("ram:SpecifiedTaxRegistration/ram:ID", NS):
        if (registration.get("schemeID") or "").upper() == "VA":
            vat_number = text(registration)
    name = _t(party, "ram:Name")
    trading_name = _t(party, "ram:SpecifiedLegalOrganization/ram:TradingBusinessName")
    contact = party.find("ram:DefinedTradeContact", NS)
    return Party(
        name=name,
        trading_name=trading_name if trading_name != name else None,
        address=_address(party.find("ram:PostalTradeAddress", NS)),
        vat_number=vat_number,
        enterprise_number=qualified(party.find("ram:SpecifiedLegalOrganization/ram:ID", NS))
        or qualified(party.find("ram:GlobalID", NS))
        or _t(party, "ram:ID"),
        endpoint=qualified(party.find("ram:URIUniversalCommunication/ram:URIID", NS)),
        contact=()
        if contact is None
        else present(
            _t(contact, "ram:PersonName"),
            _t(contact, "ram:TelephoneUniversalCommunication/ram:CompleteNumber"),
            _t(contact, "ram:EmailURIUniversalCommunication/ram:URIID"),
        ),
    )


def _address(address: etree._Element | None) -> tuple[str, ...]:
    if address is None:
        return ()
    town = " ".join(present(_t(address, "ram:PostcodeCode"), _t(address, "ram:CityName")))
    return present(
        _t(address, "ram:LineOne"),
        _t(address, "ram:LineTwo"),
        _t(address, "ram:LineThree"),
        town or None,
        _t(address, "ram:CountrySubDivisionName"),
        _t(address, "ram:CountryID"),
    )


def _references(root: etree._Element) -> References:
    return References(
        buyer=_t(root, _AGREEMENT + "ram:BuyerReference"),
        order=_t(root, _AGREEMENT + "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        sales_order=_t(root, _AGREEMENT + "ram:SellerOrderReferencedDocument/ram:IssuerAssignedID"),
        contract=_t(root, _AGREEMENT + "ram:ContractReferencedDocument/ram:IssuerAssignedID"),
        project=_t(root, _AGREEMENT + "ram:SpecifiedProcuringProject/ram:ID"),
        despatch=_t(root, _DELIVERY + "ram:DespatchAdviceReferencedDocument/ram:IssuerAssignedID"),
        preceding=present(
            *(
                text(e)
                for e in root.findall(
                    _SETTLEMENT + "ram:InvoiceReferencedDocument/ram:IssuerAssignedID", NS
                )
            )
        ),
    )


def _line(item: etree._Element) -> Line:
    settlement = "ram:SpecifiedLineTradeSettlement/"
    quantity = item.find("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", NS)
    price = "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/"
    return Line(
        id=_t(item, "ram:AssociatedDocumentLineDocument/ram:LineID"),
        name=_t(item, "ram:SpecifiedTradeProduct/ram:Name"),
        description=long_text(item.find("ram:SpecifiedTradeProduct/ram:Description", NS)),
        quantity=decimal(text(quantity)),
        unit_code=attribute(quantity, "unitCode"),
        unit_price=_d(item, price + "ram:ChargeAmount"),
        base_quantity=_d(item, price + "ram:BasisQuantity"),
        net_amount=_d(
            item,
            settlement + "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
        ),
        vat_category=_t(item, settlement + "ram:ApplicableTradeTax/ram:CategoryCode"),
        vat_rate=_d(item, settlement + "ram:ApplicableTradeTax/ram:RateApplicablePercent"),
        allowances_charges=tuple(
            _allowance(e)
            for e in item.findall(settlement + "ram:SpecifiedTradeAllowanceCharge", NS)
        ),
        period=_period(item.find(settlement + "ram:BillingSpecifiedPeriod", NS)),
        note=long_text(
            item.find("ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content", NS)
        ),
        seller_item_id=_t(item, "ram:SpecifiedTradeProduct/ram:SellerAssignedID"),
    )


def _allowance(element: etree._Element) -> AllowanceCharge:
    return AllowanceCharge(
        is_charge=(_t(element, "ram:ChargeIndicator/udt:Indicator") or "").lower() == "true",
        amount=_d(element, "ram:ActualAmount"),
        base=_d(element, "ram:BasisAmount"),
        percent=_d(element, "ram:CalculationPercent"),
        reason=_t(element, "ram:Reason") or _t(element, "ram:ReasonCode"),
        vat_category=_t(element, "ram:CategoryTradeTax/ram:CategoryCode"),
        vat_rate=_d(element, "ram:CategoryTradeTax/ram:RateApplicablePercent"),
    )


def _breakdown(tax: etree._Element) -> VatBreakdown:
    return VatBreakdown(
        category=_t(tax, "ram:CategoryCode"),
        rate=_d(tax, "ram:RateApplicablePercent"),
        taxable=_d(tax, "ram:BasisAmount"),
        vat=_d(tax, "ram:CalculatedAmount"),
        exemption_reason=_t(tax, "ram:ExemptionReason") or _t(tax, "ram:ExemptionReasonCode"),
    )


def _vat_totals(
    root: etree._Element, currency: str | None
) -> tuple[Decimal | None, Decimal | None]:
    """(VAT total, VAT in the accounting currency): one TaxTotalAmount per currency."""
    vat = vat_accounting = None
    for element in root.findall(_SUM + "TaxTotalAmount", NS):
        amount = decimal(text(element))
        if element.get("currencyID") in (None, currency):
            vat = amount if vat is None else vat
        else:
            vat_accounting = amount
    return vat, vat_accounting


def _means(element: etree._Element, root: etree._Element) -> PaymentMeans:
    creditor = "ram:PayeePartyCreditorFinancialAccount/"
    return PaymentMeans(
        code=_t(element, "ram:TypeCode"),
        iban=_t(element, creditor + "ram:IBANID")
        or _t(element, creditor + "ram:ProprietaryID")
        or _t(element, "ram:PayerPartyDebtorFinancialAccount/ram:IBANID"),
        account_name=_t(element, creditor + "ram:AccountName"),
        bic=_t(element, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"),
        mandate=_t(root, _SETTLEMENT + "ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID"),
        card=_t(element, "ram:ApplicableTradeSettlementFinancialCard/ram:ID"),
    )


def _attachment(element: etree._Element) -> Attachment:
    binary = element.find("ram:AttachmentBinaryObject", NS)
    return Attachment(
        id=_t(element, "ram:IssuerAssignedID"),
        description=_t(element, "ram:Name"),
        filename=attribute(binary, "filename"),
        mime_code=attribute(binary, "mimeCode"),
        uri=_t(element, "ram:URIID"),
        content=embedded(binary),
    )
