"""The real samples' XML, and UBL invoices made up line by line for property tests."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from iportal.documents.publishing.einvoice import read_structured

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(
    os.environ.get("IPORTAL_EINVOICE_SAMPLES", ROOT.parent / "shared" / "einvoice-samples")
)
CENT = Decimal("0.01")


def sample_rows() -> list[Any]:
    expected = SAMPLES / "expected.csv"
    if not expected.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no samples at {SAMPLES}"))]
    with expected.open(newline="", encoding="utf-8") as file:
        return [pytest.param(row, id=row["file"]) for row in csv.DictReader(file)]


def sample_xml(name: str) -> bytes:
    invoice = read_structured((SAMPLES / name).read_bytes())
    assert invoice is not None
    return invoice.xml


LINE_ELEMENTS = ("InvoiceLine", "CreditNoteLine", "IncludedSupplyChainTradeLineItem")


def line_count(xml: bytes) -> int:
    """How many lines the document has, counted without the view's reader."""
    from lxml import etree

    return sum(
        1
        for element in etree.fromstring(xml).iter()
        if isinstance(element.tag, str) and etree.QName(element).localname in LINE_ELEMENTS
    )


@dataclass(frozen=True)
class MadeLine:
    quantity: Decimal
    price: Decimal
    rate: Decimal
    allowance: Decimal  # on the line, 0 for none
    name: str


@dataclass(frozen=True)
class MadeInvoice:
    xml: bytes
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    payable: Decimal
    line_totals: tuple[Decimal, ...]


def ubl(
    lines: list[MadeLine], allowance: Decimal, charge: Decimal, prepaid: Decimal
) -> MadeInvoice:
    """A Peppol BIS 3.0 invoice whose stated totals are computed as EN 16931 says."""
    nets = [(line.quantity * line.price - line.allowance).quantize(CENT) for line in lines]
    rates = sorted({line.rate for line in lines})
    first = rates[0]  # document allowance and charge carry the first rate
    taxable = {
        rate: sum((n for n, made in zip(nets, lines, strict=True) if made.rate == rate), Decimal(0))
        for rate in rates
    }
    taxable[first] += charge - allowance
    vat = {rate: (taxable[rate] * rate / 100).quantize(CENT) for rate in rates}
    line_total = sum(nets, Decimal(0))
    excl = line_total - allowance + charge
    vat_total = sum(vat.values(), Decimal(0))
    incl = excl + vat_total
    payable = incl - prepaid
    body = [
        HEAD,
        _allowance(False, allowance, first) if allowance else "",
        _allowance(True, charge, first) if charge else "",
        f'<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">{vat_total}</cbc:TaxAmount>',
        *(
            f'<cac:TaxSubtotal><cbc:TaxableAmount currencyID="EUR">{taxable[r]}</cbc:TaxableAmount>'
            f'<cbc:TaxAmount currencyID="EUR">{vat[r]}</cbc:TaxAmount>'
            f"<cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>{r}</cbc:Percent>"
            "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:TaxSubtotal>"
            for r in rates
        ),
        "</cac:TaxTotal><cac:LegalMonetaryTotal>",
        f'<cbc:LineExtensionAmount currencyID="EUR">{line_total}</cbc:LineExtensionAmount>',
        f'<cbc:TaxExclusiveAmount currencyID="EUR">{excl}</cbc:TaxExclusiveAmount>',
        f'<cbc:TaxInclusiveAmount currencyID="EUR">{incl}</cbc:TaxInclusiveAmount>',
        f'<cbc:AllowanceTotalAmount currencyID="EUR">{allowance}</cbc:AllowanceTotalAmount>',
        f'<cbc:ChargeTotalAmount currencyID="EUR">{charge}</cbc:ChargeTotalAmount>',
        f'<cbc:PrepaidAmount currencyID="EUR">{prepaid}</cbc:PrepaidAmount>',
        f'<cbc:PayableAmount currencyID="EUR">{payable}</cbc:PayableAmount>',
        "</cac:LegalMonetaryTotal>",
        *(_line(i, line, net) for i, (line, net) in enumerate(zip(lines, nets, strict=True), 1)),
        "</Invoice>",
    ]
    return MadeInvoice("".join(body).encode(), excl, vat_total, incl, payable, tuple(nets))


def _allowance(is_charge: bool, amount: Decimal, rate: Decimal) -> str:
    return (
        f"<cac:AllowanceCharge><cbc:ChargeIndicator>{str(is_charge).lower()}</cbc:ChargeIndicator>"
        "<cbc:AllowanceChargeReason>"
        f"{'Freight' if is_charge else 'Discount'}</cbc:AllowanceChargeReason>"
        f'<cbc:Amount currencyID="EUR">{amount}</cbc:Amount>'
        f"<cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>{rate}</cbc:Percent>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:AllowanceCharge>"
    )


def _line(number: int, line: MadeLine, net: Decimal) -> str:
    allowance = (
        "<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator>"
        f'<cbc:Amount currencyID="EUR">{line.allowance}</cbc:Amount></cac:AllowanceCharge>'
        if line.allowance
        else ""
    )
    return (
        f"<cac:InvoiceLine><cbc:ID>{number}</cbc:ID>"
        f'<cbc:InvoicedQuantity unitCode="HUR">{line.quantity}</cbc:InvoicedQuantity>'
        f'<cbc:LineExtensionAmount currencyID="EUR">{net}</cbc:LineExtensionAmount>{allowance}'
        f"<cac:Item><cbc:Name>{escape(line.name)}</cbc:Name><cac:ClassifiedTaxCategory>"
        f"<cbc:ID>S</cbc:ID><cbc:Percent>{line.rate}</cbc:Percent>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>"
        f'<cac:Price><cbc:PriceAmount currencyID="EUR">{line.price}</cbc:PriceAmount></cac:Price>'
        "</cac:InvoiceLine>"
    )


HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"'
    ' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"'
    ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
    "<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    "</cbc:CustomizationID><cbc:ID>GEN-1</cbc:ID><cbc:IssueDate>2026-11-02</cbc:IssueDate>"
    "<cbc:DueDate>2026-12-02</cbc:DueDate><cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
    "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
    "<cbc:BuyerReference>DL20012345</cbc:BuyerReference>"
    "<cac:AccountingSupplierParty><cac:Party>"
    '<cbc:EndpointID schemeID="0208">0123456749</cbc:EndpointID>'
    "<cac:PostalAddress><cbc:StreetName>Rue Haute 1</cbc:StreetName>"
    "<cbc:CityName>Bruxelles</cbc:CityName>"
    "<cbc:PostalZone>1000</cbc:PostalZone><cac:Country><cbc:IdentificationCode>BE</cbc:IdentificationCode>"
    "</cac:Country></cac:PostalAddress>"
    "<cac:PartyTaxScheme><cbc:CompanyID>BE0123456749</cbc:CompanyID>"
    "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
    "<cac:PartyLegalEntity><cbc:RegistrationName>Demo Lease NV</cbc:RegistrationName>"
    "</cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty>"
    "<cac:AccountingCustomerParty><cac:Party>"
    '<cbc:EndpointID schemeID="0208">0987654321</cbc:EndpointID>'
    "<cac:PostalAddress><cac:Country><cbc:IdentificationCode>BE</cbc:IdentificationCode></cac:Country>"
    "</cac:PostalAddress><cac:PartyLegalEntity>"
    "<cbc:RegistrationName>Client BV</cbc:RegistrationName>"
    "</cac:PartyLegalEntity></cac:Party></cac:AccountingCustomerParty>"
    "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>"
    "<cbc:PaymentID>+++123/4567/89002+++</cbc:PaymentID>"
    "<cac:PayeeFinancialAccount><cbc:ID>BE71096123456769</cbc:ID>"
    "<cac:FinancialInstitutionBranch><cbc:ID>GKCCBEBB</cbc:ID></cac:FinancialInstitutionBranch>"
    "</cac:PayeeFinancialAccount></cac:PaymentMeans>"
)


# What a stranger may write in any text of an e-invoice: markup, scripts, `javascript:`
# addresses, template syntax, bidi overrides that would turn the text around it. Each
# carries its field's number, so a test can find where it is shown.
HOSTILE = (
    '<script>alert("{n}")</script>',
    "<img src=x onerror=alert({n})>",
    "javascript:alert({n})",
    '"><svg onload=alert({n})>',
    "{{{{ 7*7 }}}} {{% raw %}}{n}",
    "\u202eexe.{n}fdp.\u202c",
    "\u2066\u202bisolate {n}",
)
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
LONG_NOTE_LENGTH = 100_000


def hostile(xml: bytes) -> bytes:
    """The e-invoice with every text and attribute that is not an amount, a quantity, a
    date or embedded bytes replaced by hostile text, a note of 100,000 characters and a
    reference to a `javascript:` address added."""
    from lxml import etree

    root = etree.fromstring(xml)
    ubl = not root.tag.endswith("CrossIndustryInvoice")
    n = 0
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name in element.attrib:
            n += 1
            element.set(name, HOSTILE[n % len(HOSTILE)].format(n=n))
        value = (element.text or "").strip()
        binary = element.tag.endswith("BinaryObject")
        if binary or len(element) or not value or _numeric_or_date(value):
            continue
        n += 1
        element.text = HOSTILE[n % len(HOSTILE)].format(n=n)
    note = "<b>" + "x" * (LONG_NOTE_LENGTH - 7) + "</b>"
    if ubl:
        cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
        cac = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
        etree.SubElement(root, f"{{{cbc}}}Note").text = note
        reference = etree.SubElement(root, f"{{{cac}}}AdditionalDocumentReference")
        etree.SubElement(reference, f"{{{cbc}}}ID").text = "javascript:alert('ref')"
        attachment = etree.SubElement(reference, f"{{{cac}}}Attachment")
        external = etree.SubElement(attachment, f"{{{cac}}}ExternalReference")
        etree.SubElement(external, f"{{{cbc}}}URI").text = "javascript:alert('uri')"
    else:
        ram = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
        rsm = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
        exchanged = root.find(f"{{{rsm}}}ExchangedDocument")
        assert exchanged is not None
        included = etree.SubElement(exchanged, f"{{{ram}}}IncludedNote")
        etree.SubElement(included, f"{{{ram}}}Content").text = note
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _numeric_or_date(value: str) -> bool:
    compact = value.replace("-", "").replace(".", "").replace("+", "")
    return compact.isdigit() and len(value) <= 32
