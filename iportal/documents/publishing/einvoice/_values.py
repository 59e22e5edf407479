"""Field values of an e-invoice: text, amounts, dates and currencies, strictly parsed.

Every problem becomes `InvalidInput` naming the field in a clerk's words, so
nothing from lxml, `decimal` or `datetime` reaches the caller.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from lxml import etree

from iportal.documents.currencies import ISO_4217
from iportal.errors import InvalidInput
from iportal.i18n import N_, gettext

MISSING = N_("The e-invoice has no %(field)s.")
NOT_AN_AMOUNT = N_("The e-invoice's %(field)s is not a valid amount: “%(value)s”.")
NOT_A_DATE = N_("The e-invoice's %(field)s is not a valid date: “%(value)s”.")
NOT_A_TYPE_CODE = N_(
    "The e-invoice's type code “%(value)s” is not the code of an invoice or a credit note."
)
NOT_A_CURRENCY = N_("The e-invoice's currency “%(value)s” is not an ISO 4217 currency code.")

# xs:decimal without exponent, NaN or infinity; the length bound keeps `Decimal` cheap.
_AMOUNT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_AMOUNT_MAX_LENGTH = 32
# xs:date, optionally with a time zone, which a due or issue date does not need.
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?")
_DATE_102 = re.compile(r"(\d{4})(\d{2})(\d{2})")
# Values quoted back in a message are cut: the message must stay readable.
_QUOTED_MAX_LENGTH = 60


class Phrase(str):
    """Words put into a message as a parameter (a field's name). `%(field)s` formats
    it with `str()`, which translates it then: message and words share one language."""

    def __str__(self) -> str:
        return gettext(str.__str__(self))


NUMBER = Phrase(N_("document number"))
TYPE_CODE = Phrase(N_("type code"))
ISSUE_DATE = Phrase(N_("issue date"))
DUE_DATE = Phrase(N_("due date"))
CURRENCY = Phrase(N_("currency"))
AMOUNT_EXCL_VAT = Phrase(N_("total excluding VAT"))
VAT_AMOUNT = Phrase(N_("VAT total"))
AMOUNT_INCL_VAT = Phrase(N_("total including VAT"))
AMOUNT_DUE = Phrase(N_("amount due"))
VAT_IN_CURRENCY = Phrase(N_("VAT total in the document's currency"))


def missing(field: Phrase) -> InvalidInput:
    return InvalidInput(MISSING, field=field)


def invalid(field: Phrase, value: str) -> InvalidInput:
    quoted = _quoted(value)
    if field is TYPE_CODE:
        return InvalidInput(NOT_A_TYPE_CODE, value=quoted)
    if field is CURRENCY:
        return InvalidInput(NOT_A_CURRENCY, value=quoted)
    if field in (ISSUE_DATE, DUE_DATE):
        return InvalidInput(NOT_A_DATE, field=field, value=quoted)
    return InvalidInput(NOT_AN_AMOUNT, field=field, value=quoted)


def _quoted(value: str) -> str:
    value = " ".join(value.split())
    if len(value) > _QUOTED_MAX_LENGTH:
        return value[: _QUOTED_MAX_LENGTH - 1] + "…"
    return value


def text_of(element: etree._Element | None) -> str | None:
    """The element's stripped text; None when absent or blank."""
    if element is None or not isinstance(element.text, str):
        return None
    return element.text.strip() or None


def required(value: str | None, field: Phrase) -> str:
    if value is None:
        raise missing(field)
    return value


def amount(raw: str, field: Phrase) -> Decimal:
    """An amount exactly as written ("1821.5" stays Decimal("1821.5")), never a float."""
    compact = raw.strip()
    if len(compact) > _AMOUNT_MAX_LENGTH or not _AMOUNT.fullmatch(compact):
        raise invalid(field, raw)
    return Decimal(compact)


def vat_total(candidates: list[etree._Element], document_currency: str) -> Decimal:
    """The VAT total in the document's currency among the one or two written (the
    other one is in the tax currency). None written means no VAT: EN 16931 makes
    the VAT total optional and counts it as zero then."""
    if not candidates:
        return Decimal(0)
    chosen = [e for e in candidates if _currency_id(e) == document_currency] or [
        e for e in candidates if not _currency_id(e)
    ]
    if not chosen:
        raise missing(VAT_IN_CURRENCY)
    return amount(required(text_of(chosen[0]), VAT_AMOUNT), VAT_AMOUNT)


def _currency_id(element: etree._Element) -> str:
    return (element.get("currencyID") or "").strip().upper()


def optional_amount(raw: str | None, field: Phrase) -> Decimal | None:
    return None if raw is None else amount(raw, field)


def iso_date(raw: str, field: Phrase) -> date:
    """A UBL date, 2018-02-10 (a time zone suffix is allowed and dropped)."""
    return _date(_ISO_DATE, raw, field)


def date_102(raw: str, field: Phrase) -> date:
    """A CII date in UNTDID 2379 format 102, 20180210."""
    return _date(_DATE_102, raw, field)


def _date(pattern: re.Pattern[str], raw: str, field: Phrase) -> date:
    match = pattern.fullmatch(raw.strip())
    if not match:
        raise invalid(field, raw)
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise invalid(field, raw) from None


def currency(raw: str) -> str:
    code = raw.strip().upper()
    if code not in ISO_4217:
        raise invalid(CURRENCY, raw)
    return code


def scheme_qualified(element: etree._Element) -> str | None:
    """ "0088:5400000000017" for an identifier with a schemeID, else its bare value."""
    value = text_of(element)
    if value is None:
        return None
    scheme = (element.get("schemeID") or "").strip()
    return f"{scheme}:{value}" if scheme else value


def unique(values: list[str | None]) -> tuple[str, ...]:
    """The values in order, without blanks or repeats."""
    return tuple(dict.fromkeys(value for value in values if value))
