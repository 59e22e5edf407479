"""The e-invoice reader on our own small fixtures (tests/documents/fixtures/, made by
make_fixtures.py): the fields, the buyer references, the PDFs that carry an
e-invoice or not, the PDF a UBL document embeds, and files that are not e-invoices."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from pypdf import PdfReader

from iportal.documents.publishing.einvoice import (
    MAX_XML_BYTES,
    StructuredInvoice,
    read_from_pdf,
    read_pdf,
    read_structured,
    read_xml,
)
from iportal.errors import InvalidInput
from tests.documents.einvoice_helpers import (
    cii_xml,
    fixture,
    pdf_with_attachments,
    refused,
    ubl_invoice,
)
from tests.documents.fixtures.make_fixtures import EXPECTED, rendered_pdf

# --- our fixtures -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_yields_expected_fields(name: str) -> None:
    data = fixture(name)
    invoice = read_structured(data)

    assert isinstance(invoice, StructuredInvoice)
    expected = dict(EXPECTED[name])
    has_pdf = expected.pop("has_pdf", None)
    assert {field: getattr(invoice, field) for field in expected} == expected
    if name.endswith(".xml"):
        assert invoice.xml == data
        assert (invoice.pdf is not None) is has_pdf
        assert invoice.attachment_name is None
    else:
        assert invoice.pdf is None
        assert invoice.xml.startswith(b"<?xml")


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith(".pdf")))
def test_bare_cii_reads_like_the_factur_x_it_came_from(name: str) -> None:
    from_pdf = read_structured(fixture(name))
    assert from_pdf is not None

    bare = read_structured(from_pdf.xml)

    assert bare == replace(from_pdf, attachment_name=None)
    assert bare is not None and bare.kind == "factur_x"


def test_read_pdf_and_read_from_pdf_agree() -> None:
    data = fixture("fx_en16931_credit_note.pdf")

    from_bytes = read_pdf(data)
    from_reader = read_from_pdf(PdfReader(io.BytesIO(data)))

    assert from_bytes is not None and from_bytes.number == "FX-E-2024-0002"
    assert from_reader == from_bytes == read_structured(data)


def test_read_xml_refuses_a_pdf() -> None:
    with pytest.raises(InvalidInput):
        read_xml(fixture("fx_basic_invoice.pdf"))


def test_a_plain_pdf_is_not_structured() -> None:
    assert read_structured(fixture("plain.pdf")) is None
    assert read_from_pdf(PdfReader(io.BytesIO(fixture("plain.pdf")))) is None


def test_a_pdf_with_other_attachments_is_not_structured() -> None:
    data = pdf_with_attachments({"terms.xml": b"<terms/>", "photo.jpg": b"\xff\xd8\xff"})

    assert read_structured(data) is None


def test_zugferd_and_xrechnung_attachment_names_are_found_case_blind() -> None:
    cii = cii_xml().encode("utf-8")
    ubl = fixture("ubl_credit_note.xml")

    zugferd = read_structured(pdf_with_attachments({"ZUGFeRD-invoice.xml": cii}))
    xrechnung = read_structured(pdf_with_attachments({"xrechnung.xml": ubl}))

    assert zugferd is not None and zugferd.attachment_name == "ZUGFeRD-invoice.xml"
    assert zugferd.kind == "factur_x" and zugferd.number == "FX-B-2024-0001"
    assert xrechnung is not None and xrechnung.kind == "ubl"
    assert xrechnung.attachment_name == "xrechnung.xml" and xrechnung.type == "credit_note"


def test_factur_x_is_preferred_when_a_pdf_carries_several() -> None:
    other = cii_xml("fx_basic_credit_note.pdf").encode("utf-8")
    data = pdf_with_attachments({"zugferd-invoice.xml": other, "factur-x.xml": cii_xml().encode()})

    invoice = read_structured(data)

    assert invoice is not None and invoice.number == "FX-B-2024-0001"


def test_ubl_embedded_pdf_is_the_first_pdf_attachment() -> None:
    invoice = read_structured(fixture("ubl_invoice_with_pdf.xml"))

    # A text/csv attachment comes before it and another PDF after it.
    assert invoice is not None and invoice.pdf == rendered_pdf("UBL-2024-0002")


def test_buyer_references_are_ordered_and_without_repeats() -> None:
    invoice = read_structured(fixture("fx_en16931_invoice.pdf"))

    assert invoice is not None
    # 0208:0987654321 is both the legal organisation and the electronic address.
    assert invoice.buyer_references.count("0208:0987654321") == 1
    assert invoice.buyer_references[0] == "PO-7781"


def test_no_buyer_identifier_gives_no_references() -> None:
    data = ubl_invoice("<cbc:BuyerReference>DL20012345</cbc:BuyerReference>", "").decode()
    start, end = (
        data.index("<cac:AccountingCustomerParty>"),
        data.index("</cac:AccountingCustomerParty>"),
    )
    data = (
        data[:start] + "<cac:AccountingCustomerParty><cac:Party><cac:PartyLegalEntity>"
        "<cbc:RegistrationName>Klant BV</cbc:RegistrationName></cac:PartyLegalEntity>"
        "</cac:Party>" + data[end:]
    )

    invoice = read_structured(data.encode())

    assert invoice is not None and invoice.buyer_references == ()


# --- embedded PDF -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not base64!", "its content is not valid base64."),
        ("aGVsbG8gd29ybGQ=", "it is declared a PDF but is not one."),  # "hello world"
    ],
)
def test_a_bad_embedded_pdf_is_left_out_with_a_warning(content: str, reason: str) -> None:
    data = fixture("ubl_credit_note_with_pdf.xml").decode()
    data = re.sub(r'(mimeCode="application/pdf"[^>]*>)[^<]*<', rf"\g<1>{content}<", data)

    invoice = read_structured(data.encode())

    assert invoice is not None and invoice.number == "UBL-CN-2024-0002"
    assert invoice.pdf is None
    [warning] = invoice.warnings
    assert warning.name == "UBL-CN-2024-0002.pdf" and warning.reason == reason
    assert str(InvalidInput(warning.message, **warning.params)) == (
        f"The attachment “UBL-CN-2024-0002.pdf” was left out: {reason}"
    )


# --- not an e-invoice ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"<html><body>Invoice</body></html>",
        b'<Invoice xmlns="urn:example:not-ubl"><ID>1</ID></Invoice>',
        # ZUGFeRD 1.0: a different standard, not read here.
        b'<rsm:CrossIndustryDocument xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0"/>',
    ],
)
def test_other_xml_is_refused(data: bytes) -> None:
    assert str(refused(data)) == (
        "This XML is neither a UBL invoice or credit note nor a CII (Factur-X) invoice."
    )


@pytest.mark.parametrize("data", [b"", b"hello", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04"])
def test_neither_pdf_nor_xml_is_refused(data: bytes) -> None:
    assert str(refused(data)) == "This file is neither a PDF nor an XML e-invoice."


@pytest.mark.parametrize("data", [b"<Invoice", b"<a></b>", b"\xef\xbb\xbf<a>\xff\xfe</a>"])
def test_malformed_xml_is_refused(data: bytes) -> None:
    assert str(refused(data)).startswith("The XML could not be read safely: ")


def test_a_damaged_pdf_is_refused() -> None:
    for data in (b"%PDF-1.7\nnothing else", fixture("fx_basic_invoice.pdf")[:700]):
        assert str(refused(data)) == (
            "The PDF could not be read; it may be damaged or protected by a password."
        )


def test_a_password_protected_pdf_is_refused() -> None:
    data = pdf_with_attachments({"factur-x.xml": cii_xml().encode()}, user_password="secret")

    assert "password" in str(refused(data))


def test_a_factur_x_pdf_whose_xml_is_not_an_einvoice_is_refused() -> None:
    data = pdf_with_attachments({"factur-x.xml": b"not xml at all"})

    assert str(refused(data)).startswith("The XML could not be read safely: ")


def test_too_large_xml_is_refused_before_parsing() -> None:
    data = b"<Invoice>" + b" " * MAX_XML_BYTES + b"</Invoice>"

    assert str(refused(data)) == "The e-invoice's XML is larger than 10 MiB."


def test_utf16_xml_is_read_and_kept_as_published() -> None:
    text = fixture("ubl_invoice.xml").decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    data = text.encode("utf-16")

    invoice = read_structured(data)

    assert invoice is not None and invoice.number == "UBL-2024-0001" and invoice.xml == data
