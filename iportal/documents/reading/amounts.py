"""Amounts as people type them in the list's filters, in the page's language.

A Belgian writes a thousand and a half `1.000,50` or `1 000,50`, an English reader
`1,000.50`, and anyone may type `1000.50` or `1000,5`. `parse_amount` reads them all;
what it cannot read for sure is refused, never guessed.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import NumberFormatError, get_decimal_symbol, parse_decimal

# Spaces that separate thousands: the ordinary one, the no-break space and the narrow
# no-break space (what French number formatting writes), and the thin space.
SPACES = re.compile("[ \u00a0\u202f\u2009]+")
SIGNS = {"-": "-", "\u2212": "-", "+": ""}  # U+2212 is the typographic minus
MARKS = ".,"
MAX_LENGTH = 40
# The integer part with its thousands separated: 1 to 3 digits (not a lone 0: `0,125` is
# no thousands), then groups of three.
GROUPED = r"[1-9]\d{{0,2}}(?:{sep}\d{{3}})+"
DIGITS = re.compile(r"\d+")


class NotAnAmount(ValueError):
    """The text is not an amount this rule can read without guessing."""


def parse_amount(text: str, language: str) -> Decimal:
    """The amount `text` says, read as people write it on a page in `language`.

    The rule, in this order:

    1. Spaces (also U+00A0 and U+202F) only separate thousands: `1 000,50`.
    2. One sign may lead: `-`, `+` or the minus sign `−`.
    3. With both `.` and `,`, the last one is the decimal mark and the other separates
       thousands, whatever the language: `1.000,50` and `1,000.50` are 1000.50.
    4. A single mark followed by one, two or more than three digits is the decimal
       mark, whatever the language: `1000.50`, `1000,5`, `-12,00`, `0.1250`.
    5. Otherwise (a mark followed by exactly three digits, or the same mark several
       times) the page's language decides, as Babel's `parse_decimal` reads it in
       strict mode: its decimal mark is the decimal mark, the other separates
       thousands. So `1.000` is a thousand in nl, fr and de and one in en; `1,000` is
       one in nl, fr and de and a thousand in en; `1.000.000` is a million in nl.
       (Babel's French accepts `.` as a decimal mark too; a Belgian writes `1.000`
       for a thousand in French as in Dutch, so there it separates thousands.)

    Thousands must come in groups of three: `1.00.0` is refused (`NotAnAmount`), as is
    anything else that is not digits, marks, spaces and a sign, and an exponent.
    """
    body = SPACES.sub(" ", text.strip())
    if not body or len(body) > MAX_LENGTH:
        raise NotAnAmount(text)
    sign = ""
    if body[0] in SIGNS:
        sign, body = SIGNS[body[0]], body[1:].lstrip()
    if not body or not all(c.isascii() and (c.isdigit() or c in MARKS or c == " ") for c in body):
        raise NotAnAmount(text)
    integer, fraction = _split(body, language)
    decimals = f".{fraction}" if fraction else ""
    return Decimal(f"{sign}{_ungrouped(integer, text)}{decimals}")


def _split(body: str, language: str) -> tuple[str, str]:
    """The integer part (thousands still separated) and the decimals, by rules 3–5."""
    present = [mark for mark in MARKS if mark in body]
    if len(present) == 2:
        decimal = max(present, key=body.rfind)  # rule 3: the last one
        integer, _, fraction = body.rpartition(decimal)
        return integer, _decimals(fraction, body)
    if not present:
        return body, ""
    mark = present[0]
    integer, _, fraction = body.rpartition(mark)
    if body.count(mark) == 1 and len(fraction) != 3:
        return integer, _decimals(fraction, body)  # rule 4
    if _reads_as_decimal(body, mark, language):  # rule 5
        return integer, _decimals(fraction, body)
    return body, ""


def _reads_as_decimal(body: str, mark: str, language: str) -> bool:
    """Whether the page's language reads the mark as its decimal mark (rule 5)."""
    if body.count(mark) > 1:
        return False  # a mark that repeats groups thousands
    if " " in body:
        return True  # spaces group the thousands: the one mark is the decimal mark
    if mark != get_decimal_symbol(language):
        return False
    try:
        parse_decimal(body, locale=language, strict=True)
    except NumberFormatError:
        return False
    return True


def _decimals(fraction: str, text: str) -> str:
    if fraction and not DIGITS.fullmatch(fraction):
        raise NotAnAmount(text)
    return fraction


def _ungrouped(integer: str, text: str) -> str:
    """The integer part without its thousands separators, which must group by three."""
    if integer == "":
        return "0"  # `,50`
    if DIGITS.fullmatch(integer):
        return integer
    for separator in (" ", ".", ","):
        if re.fullmatch(GROUPED.format(sep=re.escape(separator)), integer):
            return integer.replace(separator, "")
    raise NotAnAmount(text)
