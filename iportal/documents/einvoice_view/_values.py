"""Lenient field readers: a view shows what it can read and leaves out what it cannot.

The XML was parsed by publishing's hardened parser (no DOCTYPE, bounded size and
depth); here a malformed amount or date becomes None rather than an error, because
one odd field must not hide the rest of an invoice a person needs to read.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from decimal import Decimal

from lxml import etree

_AMOUNT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_AMOUNT_MAX_LENGTH = 32
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?")
_DATE_102 = re.compile(r"(\d{4})(\d{2})(\d{2})")
# A view shows text, not a novel: one field never fills pages.
TEXT_MAX_LENGTH = 2000
# Bidi embeddings, overrides and isolates would turn the text around a stranger's
# value (an "invoice‮fdp.exe"); each is shown as a visible replacement character.
# Right-to-left text needs none of them to read well.
_BIDI_CONTROLS = str.maketrans(
    dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), "\ufffd")
)


def text(element: etree._Element | None) -> str | None:
    """The element's text, blanks collapsed and length bounded; None when empty."""
    if element is None or not isinstance(element.text, str):
        return None
    value = " ".join(element.text.split()).translate(_BIDI_CONTROLS)
    return value[:TEXT_MAX_LENGTH] or None


def attribute(element: etree._Element | None, name: str) -> str | None:
    """An attribute's value (a file name, a unit code), cleaned as `text` is."""
    if element is None:
        return None
    value = " ".join((element.get(name) or "").split()).translate(_BIDI_CONTROLS)
    return value[:TEXT_MAX_LENGTH] or None


def long_text(element: etree._Element | None) -> str | None:
    """As `text`, keeping the line breaks of a note."""
    if element is None or not isinstance(element.text, str):
        return None
    lines = (" ".join(line.split()) for line in element.text.strip().splitlines())
    return "\n".join(lines).translate(_BIDI_CONTROLS)[:TEXT_MAX_LENGTH] or None


def decimal(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    compact = raw.strip()
    if len(compact) > _AMOUNT_MAX_LENGTH or not _AMOUNT.fullmatch(compact):
        return None
    return Decimal(compact)


def iso_date(raw: str | None) -> date | None:
    return _date(_ISO_DATE, raw)


def date_102(raw: str | None) -> date | None:
    return _date(_DATE_102, raw)


def _date(pattern: re.Pattern[str], raw: str | None) -> date | None:
    match = pattern.fullmatch(raw.strip()) if raw else None
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def qualified(element: etree._Element | None, scheme_attribute: str = "schemeID") -> str | None:
    """ "0208:0123456789" for an identifier with a scheme, else its bare value."""
    value = text(element)
    if value is None or element is None:
        return None
    scheme = attribute(element, scheme_attribute)
    return f"{scheme}:{value}" if scheme else value


def embedded(element: etree._Element | None) -> bytes | None:
    """The bytes of an embedded file (xs:base64Binary, which allows blanks anywhere);
    None when there is none or it does not decode."""
    if element is None or not isinstance(element.text, str):
        return None
    try:
        return base64.b64decode("".join(element.text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def present(*values: str | None) -> tuple[str, ...]:
    """The values in order, without blanks or repeats."""
    return tuple(dict.fromkeys(v for v in values if v))
