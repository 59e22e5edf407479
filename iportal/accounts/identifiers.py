"""Client codes and Belgian enterprise numbers: normalised, then validated.

People type these from paper, with spaces, dots and dashes, in any case; the
portal stores one canonical form and refuses what cannot be right.
"""

from __future__ import annotations

import re

from iportal.errors import InvalidInput
from iportal.i18n import N_

_SEPARATORS = re.compile(r"[\s.\-/_]+")
_CLIENT_CODE = re.compile(r"^[A-Z][A-Z0-9]{3,31}$")
_ENTERPRISE_NUMBER = re.compile(r"^(?:BE)?([01]\d{9})$")


def normalise_client_code(raw: str) -> str:
    """`dl2-001 2345` → `DL20012345`; raises `InvalidInput` for what cannot be a code."""
    code = _SEPARATORS.sub("", raw or "").upper()
    if not _CLIENT_CODE.match(code):
        raise InvalidInput(
            N_("“%(value)s” is not a valid client code (letters and digits, like DL20012345)."),
            value=raw,
        )
    return code


def enterprise_number_checks(digits: str) -> bool:
    """Mod-97 check of a Belgian enterprise number's ten digits."""
    return 97 - int(digits[:8]) % 97 == int(digits[8:])


def normalise_enterprise_number(raw: str) -> str:
    """`be 0123.456.749` → `BE0123456749`, mod-97 checked."""
    compact = _SEPARATORS.sub("", raw or "").upper()
    match = _ENTERPRISE_NUMBER.match(compact)
    if not match or not enterprise_number_checks(match.group(1)):
        raise InvalidInput(
            N_("“%(value)s” is not a valid Belgian enterprise number (BE0123456789)."),
            value=raw,
        )
    return "BE" + match.group(1)


def looks_like_enterprise_number(raw: str) -> bool:
    return bool(_ENTERPRISE_NUMBER.match(_SEPARATORS.sub("", raw or "").upper()))
