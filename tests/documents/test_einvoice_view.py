"""The readable view of an e-invoice: every field a person needs, from the real samples
and from invoices made up by hypothesis, on the page's data and in the rendered PDF."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from iportal import i18n
from iportal.documents.einvoice_view import read_invoice, render_pdf, shown
from iportal.errors import InvalidInput
from iportal.templating import money
from tests.documents.einvoice_view_helpers import (
    MadeLine,
    line_count,
    sample_rows,
    sample_xml,
    ubl,
)


def flat(text: str) -> str:
    """Text with its spaces made plain: a locale's narrow no-break spaces, a PDF's breaks."""
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def pdf_text(pdf: bytes) -> str:
    return flat(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


@pytest.mark.parametrize("row", sample_rows())
def test_a_sample_reads_with_its_stated_totals(row: dict[str, str]) -> None:
    xml = sample_xml(row["file"])
    invoice = read_invoice(xml)

    assert invoice.number == row["number"]
    assert invoice.credit_note == (row["type"] == "credit_note")
    assert invoice.currency == row["currency"]
    assert invoice.issue_date is not None and invoice.issue_date.isoformat() == row["issue_date"]
    assert invoice.totals.excl_vat == Decimal(row["amount_excl_vat"])
    assert invoice.totals.vat == Decimal(row["vat_amount"])
    assert invoice.totals.incl_vat == Decimal(row["amount_incl_vat"])
    assert invoice.seller.name and invoice.buyer.name
    assert len(invoice.lines) == line_count(xml) > 0
    assert all(line.net_amount is not None for line in invoice.lines)
    assert invoice.vat_breakdown
    assert sum(v.vat or 0 for v in invoice.vat_breakdown) == invoice.totals.vat


@pytest.mark.parametrize("language", ["nl", "fr", "en", "de"])
@pytest.mark.parametrize("row", sample_rows())
def test_a_samples_pdf_carries_every_field(row: dict[str, str], language: str) -> None:
    invoice = read_invoice(sample_xml(row["file"]))
    view = shown(invoice, language)

    text = pdf_text(render_pdf(view, language))

    with i18n.using_language(language):
        expected = [money(Decimal(row["amount_incl_vat"]), row["currency"]), view.payable]
    for value in [invoice.number, invoice.seller.name, invoice.buyer.name, *expected]:
        assert flat(str(value)) in text
    for line, shown_line in zip(invoice.lines, view.lines, strict=True):
        assert flat(line.name or "")[:20] in text
        assert flat(shown_line.cells[6]) in text
    for cells in view.vat_rows:
        assert flat(cells[3]) in text
    for _label, value in view.totals:
        assert flat(value) in text
    assert (
        flat(
            i18n.translate(
                "Rendering of the e-invoice: the structured data (XML) is the original document.",
                language,
            )
        )[:30]
        in text
    )


def test_the_pdf_is_marked_as_a_rendering_on_every_page() -> None:
    made = ubl(
        [
            MadeLine(Decimal(1), Decimal(10), Decimal(21), Decimal(0), f"Line {n}")
            for n in range(120)
        ],
        Decimal(0),
        Decimal(0),
        Decimal(0),
    )
    pdf = render_pdf(shown(read_invoice(made.xml), "en"), "en")
    pages = PdfReader(io.BytesIO(pdf)).pages

    assert len(pages) > 2
    for page in pages:
        assert "Rendering of the e-invoice" in page.extract_text()


def test_codes_are_shown_as_words_and_amounts_in_the_readers_locale() -> None:
    made = ubl(
        [MadeLine(Decimal(3), Decimal("1234.5"), Decimal(21), Decimal(0), "Lease")],
        Decimal(0),
        Decimal(0),
        Decimal(0),
    )
    invoice = read_invoice(made.xml)

    fr = shown(invoice, "fr")
    de = shown(invoice, "de")

    assert fr.lines[0].cells[3] == "heure" and de.lines[0].cells[3] == "Stunde"
    assert ("Moyen de paiement", "Virement") in fr.payment
    assert ("Communication structurée", "+++123/4567/89002+++") in fr.payment
    assert fr.payable == "4\u202f481,24\u00a0€"
    assert de.payable == "4.481,24\u00a0€"
    assert (i18n.translate("Issue date", "fr"), "2 nov. 2026") in fr.facts


def test_any_other_xml_is_refused_in_words() -> None:
    with pytest.raises(InvalidInput):
        read_invoice(b"<html/>")
    with pytest.raises(InvalidInput):
        read_invoice(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(99999), places=2)
lines = st.builds(
    MadeLine,
    quantity=st.decimals(min_value=Decimal(1), max_value=Decimal(500), places=0),
    price=amounts,
    rate=st.sampled_from([Decimal(0), Decimal(6), Decimal(12), Decimal(21)]),
    allowance=st.sampled_from([Decimal(0), Decimal("0.50"), Decimal(1)]),
    # Letters, digits, punctuation and symbols of any script, with `&` and `<` among them.
    name=st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P", "S")), min_size=1, max_size=40
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(lines, min_size=1, max_size=8),
    st.decimals(min_value=Decimal(0), max_value=Decimal(50), places=2),
    st.decimals(min_value=Decimal(0), max_value=Decimal(50), places=2),
    st.decimals(min_value=Decimal(0), max_value=Decimal(20), places=2),
    st.sampled_from(["nl", "fr", "en", "de"]),
)
def test_a_generated_invoices_view_shows_its_stated_totals(
    made_lines: list[MadeLine], allowance: Decimal, charge: Decimal, prepaid: Decimal, language: str
) -> None:
    made = ubl(made_lines, allowance, charge, prepaid)
    invoice = read_invoice(made.xml)

    view = shown(invoice, language)
    pdf = render_pdf(view, language)

    assert invoice.totals.excl_vat == made.excl_vat
    assert invoice.totals.vat == made.vat
    assert invoice.totals.incl_vat == made.incl_vat
    assert invoice.totals.payable == made.payable
    assert tuple(line.net_amount for line in invoice.lines) == made.line_totals
    assert [line.cells[1] for line in view.lines] == [" ".join(m.name.split()) for m in made_lines]
    assert sum(v.vat or 0 for v in invoice.vat_breakdown) == made.vat
    with i18n.using_language(language):
        assert view.payable == money(made.payable, "EUR")
        stated = {
            "Total excluding VAT": made.excl_vat,
            "VAT": made.vat,
            "Total including VAT": made.incl_vat,
            "Allowances": allowance,
            "Charges": charge,
            "Paid in advance": prepaid,
        }
        for label, value in stated.items():
            assert (i18n.gettext(label), money(value, "EUR")) in view.totals, label
    text = pdf_text(pdf)
    assert flat(view.payable) in text
    assert all(flat(line.cells[6]) in text for line in view.lines)


def test_the_vat_in_the_accounting_currency_is_shown_when_it_differs() -> None:
    made = ubl(
        [MadeLine(Decimal(2), Decimal(50), Decimal(21), Decimal(0), "Lease")],
        Decimal(0),
        Decimal(0),
        Decimal(0),
    )
    xml = made.xml.decode().replace(
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        "<cbc:TaxCurrencyCode>SEK</cbc:TaxCurrencyCode>",
    )
    xml = xml.replace(
        "<cac:LegalMonetaryTotal>",
        '<cac:TaxTotal><cbc:TaxAmount currencyID="SEK">241.50</cbc:TaxAmount></cac:TaxTotal>'
        "<cac:LegalMonetaryTotal>",
    )

    invoice = read_invoice(xml.encode())
    view = shown(invoice, "nl")

    assert invoice.totals.vat == Decimal("21.00")
    assert invoice.totals.vat_accounting == Decimal("241.50")
    assert ("Btw in SEK", money_in("nl", Decimal("241.50"), "SEK")) in view.totals
    assert flat(money_in("nl", Decimal("241.50"), "SEK")) in pdf_text(render_pdf(view, "nl"))
    same = shown(read_invoice(made.xml), "nl")
    assert not any(label.startswith("Btw in") for label, _ in same.totals)


def money_in(language: str, amount: Decimal, currency: str) -> str:
    with i18n.using_language(language):
        return money(amount, currency)


def test_an_odd_field_is_left_out_rather_than_refused() -> None:
    made = ubl(
        [MadeLine(Decimal(1), Decimal(10), Decimal(21), Decimal(0), "Lease")],
        Decimal(0),
        Decimal(0),
        Decimal(0),
    )
    xml = made.xml.replace(
        b"<cbc:DueDate>2026-12-02</cbc:DueDate>", b"<cbc:DueDate>soon</cbc:DueDate>"
    )
    xml = xml.replace(b'unitCode="HUR">1<', b'unitCode="HUR">one<')

    invoice = read_invoice(xml)
    view = shown(invoice, "en")

    assert invoice.due_date is None and invoice.lines[0].quantity is None
    assert view.lines[0].cells[2] == "" and view.payable == "€12.10"


def test_publishing_never_renders() -> None:
    """The PDF of an XML-only document is made when someone asks for it, never at
    publishing, so publishing and ingest run as fast as without the readable view: no
    module of publishing imports the view or anything that draws."""
    import ast
    from pathlib import Path

    import iportal.documents.publishing as publishing

    drawing = ("iportal.documents.einvoice_view", "iportal.documents.reading", "reportlab")
    found = []
    for path in Path(publishing.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [(path.name, n) for n in names if n.startswith(drawing)]
    assert found == []
