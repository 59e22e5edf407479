"""Enterprise and VAT numbers through python-stdnum, e-mail addresses through
email-validator: what people type is normalised, and what cannot be right is refused
with a message that names it."""

from __future__ import annotations

import pytest

from iportal.accounts.identifiers import (
    email_address,
    foreign_vat_number,
    looks_like_enterprise_number,
    normalise_enterprise_number,
)
from iportal.errors import InvalidInput


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("de 811 907 980", "DE811907980"),
        ("DE 811.907.980", "DE811907980"),
        ("nl 0044.95445.B01", "NL004495445B01"),
        ("9944:NL004495445B01", "NL004495445B01"),  # a Peppol id: scheme, then the number
        ("fr 40 303 265 045", "FR40303265045"),
        ("EL 094259216", "EL094259216"),
        ("GB 980 7806 84", "GB980780684"),
        ("CHE-116.281.710 MWST", "CHE116281710MWST"),
    ],
)
def test_a_foreign_vat_number_is_compact_and_in_capitals(typed: str, canonical: str) -> None:
    assert foreign_vat_number(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "DE811907981",  # the check digit is wrong
        "NL004495446B01",
        "BE0417000129",  # Belgian: an enterprise number, not a foreign VAT number
        "XX811907980",  # no such country
        "DE81190798",  # too short
        "anna@peeters.example",
        "",
    ],
)
def test_what_is_not_a_foreign_vat_number_is_none(typed: str) -> None:
    assert foreign_vat_number(typed) is None


def test_enterprise_numbers_are_mod_97_checked() -> None:
    assert normalise_enterprise_number("be 0417.000.129") == "BE0417000129"
    assert normalise_enterprise_number("0417 000 129") == "BE0417000129"
    assert looks_like_enterprise_number("BE0417000128")  # written like one, check aside
    with pytest.raises(InvalidInput) as refused:
        normalise_enterprise_number("BE0417000128")
    assert str(refused.value) == (
        "“BE0417000128” is not a valid Belgian enterprise number (BE0123456789)."
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("anna@peeters.example", "anna@peeters.example"),
        ("  Anna.Peeters@Example.BE ", "anna.peeters@example.be"),
        ("first.last+invoices@sub.domain.example", "first.last+invoices@sub.domain.example"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("client@example.test", "client@example.test"),
        ("jonas@bücher.example", "jonas@xn--bcher-kva.example"),  # the domain as SMTP sends it
    ],
)
def test_an_email_address_is_stored_trimmed_and_in_lower_case(typed: str, stored: str) -> None:
    assert email_address(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "anna",
        "anna@",
        "@peeters.example",
        "anna peeters@example.be",
        "anna@example",  # no dot in the domain
        "anna..peeters@example.be",
        "anna@peeters..example",
        "anna@-peeters.example",
        "Anna <anna@peeters.example>",
        "anna@localhost",
        "jörg@example.de",  # the outbox sends ASCII addresses only
        "a" * 250 + "@example.be",  # longer than SMTP allows (254)
    ],
)
def test_a_malformed_email_address_is_refused_naming_it(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        email_address(typed)
    assert str(refused.value) == f"“{typed}” is not a valid e-mail address."


@pytest.mark.parametrize("typed", ["", "   ", None])
def test_a_missing_email_address_is_required(typed: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        email_address(typed)
    assert str(refused.value) == "This field is required."
