"""A document's fields from the issuer's metadata and its structured e-invoice data.

Rules (API.md, DESIGN.md): metadata may be left out when the file carries
Factur-X or UBL data; a metadata field that is given must agree with that data
(the error names the field); amounts are Decimal, must add up to the cent, and
are stored as the document states them. A document described by metadata alone states
a credit note's amounts positive, and only a corrective invoice (384) negative; an
e-invoice is held to EN 16931 alone, which lets any invoice be negative (Peppol BIS
3.0 corrects with a negative 380). Dates are ones a person means: an issue date
from 1 January 2000 to tomorrow, a due date from the issue date to ten years after it.
A number is one line of text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from iportal.documents.currencies import ISO_4217
from iportal.errors import InvalidInput
from iportal.i18n import N_

if TYPE_CHECKING:
    from iportal.documents.publishing.einvoice import StructuredInvoice

DOCUMENT_TYPES = ("invoice", "credit_note")
AMOUNT_FIELDS = ("amount_excl_vat", "vat_amount", "amount_incl_vat")
COMPARED_FIELDS = (
    "type",
    "type_code",
    "number",
    "issue_date",
    "due_date",
    "currency",
    *AMOUNT_FIELDS,
)
CORRECTIVE_INVOICE = "384"
FUTURE_TOLERANCE = timedelta(days=1)
# Older dates are placeholders (0001-01-01, 1900-01-01, 1970-01-01) or typos. Real
# e-invoices of 2007 exist and are published, though readers are shown nothing issued
# before the portal's start, May 2008 (`documents.reading`).
EARLIEST_ISSUE_DATE = date(2000, 1, 1)
LONGEST_TERM_YEARS = 10  # a due date further than this after the issue date is a typo
# Any control character, the tab included, and lone surrogates: a number is shown on
# one line, goes into file names and CSV cells, and PostgreSQL cannot store a NUL.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_AMOUNT = Decimal("999999999999.99")  # numeric(14, 2)
CENT = Decimal("0.01")
MISSING = N_("The %(field)s is missing.")


@dataclass(frozen=True)
class DocumentFields:
    type: str
    number: str
    issue_date: date
    currency: str
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    due_date: date | None = None
    type_code: str | None = None
    amount_due: Decimal | None = None


def parse_date(field: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            N_("The %(field)s “%(value)s” is not a date (YYYY-MM-DD)."), field=field, value=raw
        ) from None


def parse_amount(field: str, raw: str) -> Decimal:
    try:
        amount = Decimal(raw.strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or abs(amount) > MAX_AMOUNT:
        raise InvalidInput(
            N_("The %(field)s “%(value)s” is not an amount (like 1234.56)."), field=field, value=raw
        )
    if amount != amount.quantize(CENT):
        raise InvalidInput(
            N_("The %(field)s “%(value)s” has more than two decimals."), field=field, value=raw
        )
    return amount.quantize(CENT)


def _from_metadata(metadata: dict[str, str]) -> dict[str, Any]:
    """The given (non-empty) metadata fields, parsed; unknown columns are ignored."""
    given = {k: v.strip() for k, v in metadata.items() if isinstance(v, str) and v.strip()}
    parsed: dict[str, Any] = {}
    if "type" in given:
        if given["type"] not in DOCUMENT_TYPES:
            raise InvalidInput(
                N_("The type “%(value)s” is not invoice or credit_note."), value=given["type"]
            )
        parsed["type"] = given["type"]
    for name in ("issue_date", "due_date"):
        if name in given:
            parsed[name] = parse_date(name, given[name])
    for name in AMOUNT_FIELDS:
        if name in given:
            parsed[name] = parse_amount(name, given[name])
    if "currency" in given:
        parsed["currency"] = given["currency"].upper()
    if "number" in given:
        parsed["number"] = given["number"]
    if "type_code" in given:
        code = given["type_code"]
        parsed["type_code"] = code.zfill(3) if code.isdigit() else code
    return parsed


def _from_structured(structured: StructuredInvoice) -> dict[str, Any]:
    values = {name: getattr(structured, name) for name in COMPARED_FIELDS}
    values["amount_due"] = structured.amount_due
    return values


def _agree(given: dict[str, Any], found: dict[str, Any]) -> None:
    for name in COMPARED_FIELDS:
        # Metadata may complete what the e-invoice leaves out, never contradict it.
        if name in given and found[name] is not None and given[name] != found[name]:
            raise InvalidInput(
                N_("The %(field)s given (“%(given)s”) differs from the e-invoice's (“%(found)s”)."),
                field=name,
                given=str(given[name]),
                found=str(found[name]),
            )


def merge_metadata(
    metadata: dict[str, str] | None, structured: StructuredInvoice | None, today: date
) -> tuple[DocumentFields, str | None]:
    """The document's fields and the client code the metadata names (if any)."""
    metadata = metadata or {}
    given = _from_metadata(metadata)
    client_code = (metadata.get("client_code") or "").strip() or None
    if structured is not None:
        found = _from_structured(structured)
        _agree(given, found)
        values = {**found, **given}
    else:
        values = given
        if client_code is None:
            raise InvalidInput(MISSING, field="client_code")
    fields = _complete(values)
    check_rules(fields, today, signs=structured is None)
    return fields, client_code


def _complete(values: dict[str, Any]) -> DocumentFields:
    for name in ("type", "number", "issue_date", "currency", *AMOUNT_FIELDS):
        if values.get(name) in (None, ""):
            raise InvalidInput(MISSING, field=name)
    return DocumentFields(
        type=values["type"],
        number=values["number"],
        issue_date=values["issue_date"],
        currency=values["currency"],
        amount_excl_vat=values["amount_excl_vat"],
        vat_amount=values["vat_amount"],
        amount_incl_vat=values["amount_incl_vat"],
        due_date=values.get("due_date"),
        type_code=values.get("type_code"),
        amount_due=values.get("amount_due"),
    )


def check_rules(fields: DocumentFields, today: date, *, signs: bool = True) -> None:
    """The rules every document obeys, whatever its source; with `signs`, the
    portal's own rule on which way its amounts go (EN 16931 has none)."""
    if len(fields.number) > 64:
        raise InvalidInput(N_("The document number is longer than 64 characters."))
    if _NOT_ONE_LINE.search(fields.number):
        raise InvalidInput(
            N_(
                "The document number contains a control character (a line break, a tab or "
                "an invisible character); a number is one line of text."
            )
        )
    for name in AMOUNT_FIELDS:
        value = getattr(fields, name)
        if value != value.quantize(CENT):
            raise InvalidInput(
                N_("The %(field)s “%(value)s” has more than two decimals."),
                field=name,
                value=str(value),
            )
    if fields.currency not in ISO_4217:
        raise InvalidInput(
            N_("“%(value)s” is not a currency code (ISO 4217, like EUR)."), value=fields.currency
        )
    if fields.amount_excl_vat + fields.vat_amount != fields.amount_incl_vat:
        raise InvalidInput(
            N_("The amounts do not add up: %(excl)s + VAT %(vat)s is not %(incl)s."),
            excl=str(fields.amount_excl_vat),
            vat=str(fields.vat_amount),
            incl=str(fields.amount_incl_vat),
        )
    if signs:
        _check_signs(fields)
    if fields.issue_date > today + FUTURE_TOLERANCE:
        raise InvalidInput(
            N_("The issue date %(date)s lies in the future."), date=fields.issue_date.isoformat()
        )
    if fields.issue_date < EARLIEST_ISSUE_DATE:
        raise InvalidInput(
            N_("The issue date %(date)s is before %(earliest)s: no document here is that old."),
            date=fields.issue_date.isoformat(),
            earliest=EARLIEST_ISSUE_DATE.isoformat(),
        )
    if fields.due_date is not None:
        _check_due_date(fields.due_date, fields.issue_date)
    if fields.type_code is not None and not (
        len(fields.type_code) == 3 and fields.type_code.isdigit()
    ):
        raise InvalidInput(
            N_("The type code “%(value)s” is not a three-digit UNTDID 1001 code."),
            value=fields.type_code,
        )


def _check_due_date(due: date, issued: date) -> None:
    if due < issued:
        raise InvalidInput(
            N_("The due date %(due)s is before the issue date %(issued)s."),
            due=due.isoformat(),
            issued=issued.isoformat(),
        )
    try:
        latest = issued.replace(year=issued.year + LONGEST_TERM_YEARS)
    except ValueError:  # 29 February
        latest = issued.replace(year=issued.year + LONGEST_TERM_YEARS, day=28)
    if due > latest:
        raise InvalidInput(
            N_(
                "The due date %(due)s is more than %(years)s years after the issue date %(issued)s."
            ),
            due=due.isoformat(),
            years=LONGEST_TERM_YEARS,
            issued=issued.isoformat(),
        )


def _check_signs(fields: DocumentFields) -> None:
    negative = fields.amount_incl_vat < 0
    if fields.type == "credit_note" and negative:
        raise InvalidInput(
            N_("A credit note states positive amounts; its type already makes it a credit.")
        )
    if fields.type == "invoice" and negative and fields.type_code != CORRECTIVE_INVOICE:
        raise InvalidInput(
            N_(
                "A negative invoice must be a corrective invoice (type code "
                "384); publish a refund as a credit note."
            )
        )
