"""Client codes, enterprise and VAT numbers, e-mail addresses: normalised, then validated.

People type these from paper, with spaces, dots and dashes, in any case; the
portal stores one canonical form and refuses what cannot be right. Enterprise and
VAT numbers are checked by `python-stdnum` (their check digits included), e-mail
addresses by `email-validator`.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from stdnum.be import vat as be_vat
from stdnum.ch import vat as ch_vat
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.gb import vat as gb_vat
from stdnum.no import mva as no_mva

from iportal.errors import InvalidInput
from iportal.i18n import N_

_SEPARATORS = re.compile(r"[\s.\-/_]+")
_CLIENT_CODE = re.compile(r"^[A-Z][A-Z0-9]{3,31}$")
# A Peppol participant id carries the VAT number behind its scheme: `9944:NL…`.
_PEPPOL_SCHEME = re.compile(r"^\d{4}:")
# VAT numbers of the EU as VIES writes them (Greece is EL, Northern Ireland XI), Belgium's
# excepted: a Belgian client is known by its enterprise number.
_EU_PREFIXES = frozenset({"EL"} | {cc.upper() for cc in eu_vat.MEMBER_STATES} - {"BE", "GR"})
# And the neighbours outside the EU whose clients we see.
_NEIGHBOURS = {"GB": gb_vat, "CH": ch_vat, "NO": no_mva}
REQUIRED = N_("This field is required.")


def normalise_client_code(raw: str) -> str:
    """`dl2-001 2345` → `DL20012345`; raises `InvalidInput` for what cannot be a code."""
    code = _SEPARATORS.sub("", raw or "").upper()
    if not _CLIENT_CODE.match(code):
        raise InvalidInput(
            N_("“%(value)s” is not a valid client code (letters and digits, like DL20012345)."),
            value=raw,
        )
    return code


def normalise_enterprise_number(raw: str) -> str:
    """`be 0123.456.749` → `BE0123456749`, mod-97 checked (`stdnum.be.vat`)."""
    try:
        digits = be_vat.validate(_SEPARATORS.sub("", raw or ""))
    except ValidationError:
        raise InvalidInput(
            N_("“%(value)s” is not a valid Belgian enterprise number (BE0123456789)."),
            value=raw,
        ) from None
    return "BE" + digits


def looks_like_enterprise_number(raw: str) -> bool:
    """Written like a Belgian enterprise number, whatever its check digits."""
    digits = be_vat.compact(_SEPARATORS.sub("", raw or ""))
    return len(digits) == 10 and digits.isdigit() and digits[0] in "01"


def foreign_vat_number(raw: str) -> str | None:
    """A VAT number of a country other than Belgium, compact and in capitals, when its
    check digits are right (`de 811 907 980` → `DE811907980`, also behind a Peppol
    scheme: `9944:NL004495445B01`); None for anything else."""
    compact = _PEPPOL_SCHEME.sub("", _SEPARATORS.sub("", raw or "").upper())
    country = compact[:2]
    neighbour = _NEIGHBOURS.get(country)
    if neighbour is not None:
        if not neighbour.is_valid(compact):
            return None
        return country + str(neighbour.compact(compact)).removeprefix(country)
    if country not in _EU_PREFIXES or not eu_vat.is_valid(compact):
        return None
    return str(eu_vat.compact(compact))


def email_address(raw: str | None) -> str:
    """An e-mail address in its stored form (trimmed, lower case, the domain in its
    ASCII form as the outbox sends it) when `email-validator` finds its syntax right
    (no DNS look-up); `InvalidInput` otherwise. `.test` domains pass, as RFC 6761 asks
    of applications (and test data lives there)."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(REQUIRED)
    try:
        checked = validate_email(
            text, check_deliverability=False, allow_smtputf8=False, test_environment=True
        )
    except EmailNotValidError:
        raise InvalidInput(N_("“%(value)s” is not a valid e-mail address."), value=raw) from None
    return str(checked.ascii_email).lower()


def masked_email(address: str) -> str:
    """`anna@peeters.be` → `a•••@peeters.be`: enough for its owner to recognise it, too
    little for whoever holds a paper code to learn it (`a@b.be` → `a•••@b.be` too)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local:
        return "•••" if address.strip() else ""
    return f"{local[0]}•••@{domain}"
