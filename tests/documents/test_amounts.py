"""Amounts typed in the list's filters as people write them in the page's language:
`parse_amount`'s rule, example by example, and for any amount as Babel writes it in
each language."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from iportal.documents.reading.amounts import NotAnAmount, parse_amount

LANGUAGES = ("nl", "fr", "de", "en")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1.000,50", "1000.50"),
        ("1,000.50", "1000.50"),
        ("1 000,50", "1000.50"),
        ("1\u202f000,50", "1000.50"),  # narrow no-break space, as French formatting writes
        ("1\u00a0000,50", "1000.50"),  # no-break space
        ("1000.50", "1000.50"),
        ("1000,5", "1000.5"),
        ("-12,00", "-12"),
        ("\u221212,5", "-12.5"),  # the minus sign
        ("+7", "7"),
        (" 250 ", "250"),
        (",5", "0.5"),
        ("1.234.567,89", "1234567.89"),
        ("1 234 567", "1234567"),
        ("0.1250", "0.125"),
    ],
)
def test_what_reads_the_same_in_every_language(language: str, typed: str, amount: str) -> None:
    assert parse_amount(typed, language) == Decimal(amount)


@pytest.mark.parametrize(
    ("typed", "language", "amount"),
    [
        # A single mark followed by three digits: the page's language decides.
        ("1.000", "nl", "1000"),
        ("1.000", "de", "1000"),
        ("1.000", "fr", "1000"),  # a Belgian writes a thousand so in French too
        ("1.000", "en", "1"),
        ("1,000", "nl", "1"),
        ("1,000", "fr", "1"),
        ("1,000", "en", "1000"),
        ("1.000.000", "nl", "1000000"),
        ("1,000,000", "en", "1000000"),
        ("0,125", "nl", "0.125"),
    ],
)
def test_an_ambiguous_mark_is_read_in_the_pages_language(
    typed: str, language: str, amount: str
) -> None:
    assert parse_amount(typed, language) == Decimal(amount)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "typed",
    ["", " ", "lots", "1e5", "NaN", "Infinity", "1.00.0", "1 00", "12 ,5", "1,2,3", "--5", "€5",
     "1.000,000.5", "٣", "1" * 41],
)  # fmt: skip
def test_what_is_no_amount_is_refused(language: str, typed: str) -> None:
    with pytest.raises(NotAnAmount):
        parse_amount(typed, language)


def test_a_lone_zero_before_three_digits_is_no_thousands() -> None:
    with pytest.raises(NotAnAmount):
        parse_amount("0,125", "en")  # a thousands separator after 0 means nothing


@given(
    amount=st.decimals(
        min_value=Decimal("-99999999.99"),
        max_value=Decimal("99999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ),
    language=st.sampled_from(LANGUAGES),
    pattern=st.sampled_from(["#,##0.00", "#,##0.##", "#,##0", "0.00"]),
)
def test_any_amount_as_babel_writes_it_reads_back(
    amount: Decimal, language: str, pattern: str
) -> None:
    written = format_decimal(amount, format=pattern, locale=language)
    expected = amount if pattern.endswith(".00") or pattern.endswith(".##") else round(amount)
    assert parse_amount(written, language) == expected, written
