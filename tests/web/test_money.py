"""Amounts on pages: the cached currency patterns write exactly what babel writes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency
from hypothesis import given, settings
from hypothesis import strategies as st

from iportal import i18n
from iportal.templating import money

LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "de": "de_BE", "en": "en_GB"}
AMOUNTS = ["0", "0.1", "-0.005", "1234.565", "-98765.43", "1000000", "12.3456"]


@pytest.mark.parametrize("language", sorted(LOCALES))
@pytest.mark.parametrize("currency", ["EUR", "USD", "JPY", "BHD"])
def test_money_is_babels_currency_format(language: str, currency: str) -> None:
    token = i18n.current_language.set(language)
    try:
        for raw in AMOUNTS:
            amount = Decimal(raw)
            assert money(amount, currency) == format_currency(
                amount, currency, locale=LOCALES[language]
            )
    finally:
        i18n.current_language.reset(token)


@settings(max_examples=300, deadline=None)
@given(
    amount=st.decimals(
        min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=4
    ),
    language=st.sampled_from(sorted(LOCALES)),
    currency=st.sampled_from(["EUR", "USD", "GBP", "CHF", "JPY", "BHD", "SEK"]),
)
def test_any_amount_is_written_as_babel_writes_it(
    amount: Decimal, language: str, currency: str
) -> None:
    token = i18n.current_language.set(language)
    try:
        assert money(amount, currency) == format_currency(
            amount, currency, locale=LOCALES[language]
        )
    finally:
        i18n.current_language.reset(token)
