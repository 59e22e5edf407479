"""The e-invoice reader's values: type codes, amounts, dates, currencies, the VAT
total, and an `InvalidInput` that names the missing or bad field in plain words."""

from __future__ import annotations

import pickle
from datetime import date
from decimal import Decimal

import pytest

from iportal.documents.publishing.einvoice import document_type, read_structured
from iportal.errors import InvalidInput
from iportal.i18n import using_language
from tests.documents.einvoice_helpers import cii_variant, fixture, refused, ubl_invoice

# --- type codes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("380", ("invoice", "380")),
        ("384", ("invoice", "384")),
        ("389", ("invoice", "389")),
        (" 381 ", ("credit_note", "381")),
        ("261", ("credit_note", "261")),
        ("396", ("credit_note", "396")),
        ("458", ("credit_note", "458")),
        ("532", ("credit_note", "532")),
        ("81", ("credit_note", "081")),
        ("82", ("invoice", "082")),
    ],
)
def test_document_type(raw: str, expected: tuple[str, str]) -> None:
    assert document_type(raw) == expected


@pytest.mark.parametrize("raw", ["999", "1", "38O", "", "3800", "٣٨٠"])
def test_unknown_type_codes_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        document_type(raw)
    assert "type code" in str(caught.value)


def test_ubl_invoice_with_a_credit_note_code_is_a_credit_note() -> None:
    invoice = read_structured(ubl_invoice("<cbc:InvoiceTypeCode>380<", "<cbc:InvoiceTypeCode>381<"))

    assert invoice is not None and (invoice.type, invoice.type_code) == ("credit_note", "381")


def test_ubl_type_codes_default_by_root() -> None:
    invoice = read_structured(ubl_invoice("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>", ""))
    credit_note = read_structured(
        ubl_invoice(
            "<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>", "", name="ubl_credit_note.xml"
        )
    )

    assert invoice is not None and (invoice.type, invoice.type_code) == ("invoice", "380")
    assert credit_note is not None
    assert (credit_note.type, credit_note.type_code) == ("credit_note", "381")


def test_ubl_credit_note_with_an_invoice_code_is_refused() -> None:
    error = refused(
        ubl_invoice(
            ">381</cbc:CreditNoteTypeCode>",
            ">380</cbc:CreditNoteTypeCode>",
            name="ubl_credit_note.xml",
        )
    )

    assert str(error) == (
        "The e-invoice is a credit note, but its type code “380” is the code of an invoice."
    )


def test_corrective_cii_invoice_keeps_its_negative_amounts() -> None:
    data = cii_variant("<ram:TypeCode>380</ram:TypeCode>", "<ram:TypeCode>384</ram:TypeCode>")
    for old, new in [
        ("TaxBasisTotalAmount>100.00", "TaxBasisTotalAmount>-100.00"),
        (">21.00</ram:TaxTotalAmount", ">-21.00</ram:TaxTotalAmount"),
        ("GrandTotalAmount>121.00", "GrandTotalAmount>-121.00"),
    ]:
        data = data.replace(old.encode(), new.encode())

    invoice = read_structured(data)

    assert invoice is not None and invoice.type == "invoice" and invoice.type_code == "384"
    assert (invoice.amount_excl_vat, invoice.vat_amount, invoice.amount_incl_vat) == (
        Decimal("-100.00"),
        Decimal("-21.00"),
        Decimal("-121.00"),
    )


# --- values -------------------------------------------------------------------------


def test_amounts_are_decimals_exactly_as_written() -> None:
    invoice = read_structured(
        ubl_invoice(
            '<cbc:TaxExclusiveAmount currencyID="EUR">100.00<',
            '<cbc:TaxExclusiveAmount currencyID="EUR"> 100.0 <',
        )
    )

    assert invoice is not None and invoice.amount_excl_vat == Decimal("100.0")
    assert str(invoice.amount_excl_vat) == "100.0"


@pytest.mark.parametrize(
    "value", ["12,50", "NaN", "Infinity", "1e3", "1 000", "€100", "0x10", "1" * 40]
)
def test_bad_amounts_are_refused_naming_the_field(value: str) -> None:
    error = refused(
        ubl_invoice(
            '<cbc:TaxInclusiveAmount currencyID="EUR">121.00<',
            f'<cbc:TaxInclusiveAmount currencyID="EUR">{value}<',
        )
    )

    assert error.message == "The e-invoice's %(field)s is not a valid amount: “%(value)s”."
    assert str(error).startswith("The e-invoice's total including VAT is not a valid amount: “")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("<cbc:ID>UBL-2024-0001</cbc:ID>", "", "document number"),
        ("<cbc:ID>UBL-2024-0001</cbc:ID>", "<cbc:ID>  </cbc:ID>", "document number"),
        ("<cbc:IssueDate>2024-04-02</cbc:IssueDate>", "", "issue date"),
        ("<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>", "", "currency"),
        (
            '<cbc:TaxExclusiveAmount currencyID="EUR">100.00</cbc:TaxExclusiveAmount>',
            "",
            "total excluding VAT",
        ),
        (
            '<cbc:TaxInclusiveAmount currencyID="EUR">121.00</cbc:TaxInclusiveAmount>',
            "",
            "total including VAT",
        ),
    ],
)
def test_missing_fields_are_named(old: str, new: str, field: str) -> None:
    error = refused(ubl_invoice(old, new))

    assert str(error) == f"The e-invoice has no {field}."
    assert error.translated() == f"The e-invoice has no {field}."


def test_missing_cii_fields_are_named() -> None:
    assert str(refused(cii_variant("<ram:ID>FX-B-2024-0001</ram:ID>", ""))) == (
        "The e-invoice has no document number."
    )
    assert str(refused(cii_variant("<ram:TypeCode>380</ram:TypeCode>", ""))) == (
        "The e-invoice has no type code."
    )
    assert str(refused(cii_variant("<ram:GrandTotalAmount>121.00</ram:GrandTotalAmount>", ""))) == (
        "The e-invoice has no total including VAT."
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("<cbc:IssueDate>2024-04-02<", "<cbc:IssueDate>2024-02-30<"),
        ("<cbc:IssueDate>2024-04-02<", "<cbc:IssueDate>02/04/2024<"),
        ("<cbc:IssueDate>2024-04-02<", "<cbc:IssueDate>20240402<"),
        ("<cbc:DueDate>2024-05-02<", "<cbc:DueDate>soon<"),
    ],
)
def test_bad_ubl_dates_are_refused(old: str, new: str) -> None:
    error = refused(ubl_invoice(old, new))

    assert error.message == "The e-invoice's %(field)s is not a valid date: “%(value)s”."


def test_ubl_date_with_a_time_zone_is_read() -> None:
    invoice = read_structured(
        ubl_invoice("<cbc:IssueDate>2024-04-02<", "<cbc:IssueDate>2024-04-02+02:00<")
    )

    assert invoice is not None and invoice.issue_date == date(2024, 4, 2)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('format="102">20240301<', 'format="610">202403<'),
        ('format="102">20240301<', 'format="102">2024-03-01<'),
        ('format="102">20240331<', 'format="102">20240231<'),
    ],
)
def test_bad_cii_dates_are_refused(old: str, new: str) -> None:
    error = refused(cii_variant(old, new))

    assert error.message == "The e-invoice's %(field)s is not a valid date: “%(value)s”."


def test_currency_must_be_iso_4217() -> None:
    lower = read_structured(
        ubl_invoice(">EUR</cbc:DocumentCurrencyCode>", ">eur</cbc:DocumentCurrencyCode>")
    )
    error = refused(
        ubl_invoice(">EUR</cbc:DocumentCurrencyCode>", ">XYZ</cbc:DocumentCurrencyCode>")
    )

    assert lower is not None and lower.currency == "EUR"
    assert str(error) == "The e-invoice's currency “XYZ” is not an ISO 4217 currency code."


def test_vat_total_in_another_currency_only_is_refused() -> None:
    error = refused(
        ubl_invoice(
            '<cbc:TaxAmount currencyID="EUR">21.00</cbc:TaxAmount>\n',
            '<cbc:TaxAmount currencyID="SEK">240.00</cbc:TaxAmount>\n',
        )
    )

    assert str(error) == "The e-invoice has no VAT total in the document's currency."


def test_no_vat_total_counts_as_zero() -> None:
    text = fixture("ubl_invoice.xml").decode()
    start, end = (
        text.index("<cac:TaxTotal>"),
        text.index("</cac:TaxTotal>") + len("</cac:TaxTotal>"),
    )

    invoice = read_structured((text[:start] + text[end:]).encode())

    assert invoice is not None and invoice.vat_amount == Decimal(0)


def test_amount_due_is_optional() -> None:
    invoice = read_structured(
        ubl_invoice('<cbc:PayableAmount currencyID="EUR">121.00</cbc:PayableAmount>', "")
    )

    assert invoice is not None and invoice.amount_due is None


def test_a_value_quoted_in_a_message_is_cut_short() -> None:
    error = refused(
        ubl_invoice(
            '<cbc:TaxInclusiveAmount currencyID="EUR">121.00<',
            f'<cbc:TaxInclusiveAmount currencyID="EUR">{"x" * 5000}<',
        )
    )

    assert len(str(error)) < 200


# --- messages -----------------------------------------------------------------------


def test_field_names_survive_pickling_and_translate_when_shown() -> None:
    # The publishing sandbox sends an error's params from a worker process.
    error = refused(ubl_invoice("<cbc:IssueDate>2024-04-02</cbc:IssueDate>", ""))
    params = pickle.loads(pickle.dumps(error.params))

    assert str(params["field"]) == "issue date"
    with using_language("fr"):
        # Untranslated messages fall back to English, never to an error.
        assert isinstance(error.translated(), str)
