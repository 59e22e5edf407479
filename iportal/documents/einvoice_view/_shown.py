"""The readable invoice in a reader's language: labels translated, codes as words,
amounts and dates in the reader's locale. The page and the PDF both show this, so
what a person reads on screen and on paper is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_UP, Decimal

from babel.numbers import format_decimal

from iportal import i18n
from iportal.documents.einvoice_view import _words as words
from iportal.documents.einvoice_view._model import (
    AllowanceCharge,
    Attachment,
    Line,
    Party,
    ReadableInvoice,
)
from iportal.documents.einvoice_view._values import present
from iportal.i18n import N_, gettext
from iportal.templating import day, money

Rows = tuple[tuple[str, str], ...]
LOCALES = {"nl": "nl_BE", "fr": "fr_BE", "de": "de_BE", "en": "en_GB"}


@dataclass(frozen=True)
class ShownParty:
    title: str
    name: str
    details: Rows  # address lines and identifiers, labelled


@dataclass(frozen=True)
class ShownLine:
    cells: tuple[str, ...]  # as `LINE_HEADINGS`
    details: tuple[str, ...]  # description, period, allowances and charges


@dataclass(frozen=True)
class ShownAttachment:
    """An attachment as listed: what its sender says it is and, for a file embedded in
    the e-invoice, its number among the embedded files (as `embedded_files` and the
    download link count them), declared type and size."""

    label: str
    number: int | None = None
    about: str = ""


@dataclass(frozen=True)
class ShownInvoice:
    title: str
    facts: Rows
    parties: tuple[ShownParty, ...]
    line_headings: tuple[str, ...]
    lines: tuple[ShownLine, ...]
    allowances_charges: tuple[tuple[str, str, str], ...]  # what, VAT, amount
    vat_headings: tuple[str, ...]
    vat_rows: tuple[tuple[str, ...], ...]
    totals: Rows
    payable: str
    payment: Rows
    notes: tuple[str, ...]
    attachments: tuple[ShownAttachment, ...]


def shown(invoice: ReadableInvoice, language: str) -> ShownInvoice:
    """The invoice as a reader of `language` (nl, fr, en, de) reads it."""
    with i18n.using_language(language):
        return _shown(invoice)


def _shown(invoice: ReadableInvoice) -> ShownInvoice:
    kind = words.document_type(invoice.type_code, invoice.credit_note)
    parties = [
        _party(gettext(N_("Seller")), invoice.seller),
        _party(gettext(N_("Buyer")), invoice.buyer),
    ]
    if invoice.payee is not None:
        parties.append(_party(gettext(N_("Payee")), invoice.payee))
    return ShownInvoice(
        title=f"{kind} {invoice.number or ''}".strip(),
        facts=_facts(invoice, kind),
        parties=tuple(parties),
        line_headings=tuple(
            gettext(h)
            for h in (
                N_("#"),
                N_("Description"),
                N_("Quantity"),
                N_("Unit"),
                N_("Unit price"),
                N_("VAT"),
                N_("Line total"),
            )
        ),
        lines=tuple(_line(line, invoice.currency) for line in invoice.lines),
        allowances_charges=tuple(
            (
                _allowance_what(a, invoice.currency),
                _vat(a.vat_category, a.vat_rate),
                _money(a.amount, invoice.currency),
            )
            for a in invoice.allowances_charges
        ),
        vat_headings=tuple(
            gettext(h) for h in (N_("VAT category"), N_("Rate"), N_("Taxable amount"), N_("VAT"))
        ),
        vat_rows=tuple(
            (
                " — ".join(filter(None, (words.vat_category(v.category), v.exemption_reason))),
                _percent(v.rate),
                _money(v.taxable, invoice.currency),
                _money(v.vat, invoice.currency),
            )
            for v in invoice.vat_breakdown
        ),
        totals=_totals(invoice),
        payable=_money(invoice.totals.payable, invoice.currency),
        payment=_payment(invoice),
        notes=invoice.notes,
        attachments=_attachments(invoice.attachments),
    )


def _attachments(attachments: tuple[Attachment, ...]) -> tuple[ShownAttachment, ...]:
    shown_attachments = []
    number = 0
    for position, attachment in enumerate(attachments, start=1):
        label = " — ".join(
            present(attachment.id, attachment.description, attachment.filename, attachment.uri)
        ) or attachment.name(position)
        if attachment.content is None:
            shown_attachments.append(ShownAttachment(label))
            continue
        number += 1
        kilobytes = (Decimal(len(attachment.content)) / 1024).quantize(Decimal("0.1"), ROUND_UP)
        size = gettext(N_("%(size)s kB"), size=_number(kilobytes, 0))
        about = ", ".join(present(attachment.declared_type, size))
        shown_attachments.append(ShownAttachment(label, number, about))
    return tuple(shown_attachments)


def _facts(invoice: ReadableInvoice, kind: str) -> Rows:
    refs = invoice.references
    facts = [
        (N_("Number"), invoice.number),
        (N_("Type"), kind),
        (N_("Issue date"), _day(invoice.issue_date)),
        (N_("Due date"), _day(invoice.due_date)),
        (N_("VAT point date"), _day(invoice.tax_point_date)),
        (N_("Delivery date"), _day(invoice.delivery_date)),
        (N_("Invoicing period"), _period(invoice.period)),
        (N_("Currency"), invoice.currency),
        (N_("Buyer reference"), refs.buyer),
        (N_("Order reference"), refs.order),
        (N_("Sales order reference"), refs.sales_order),
        (N_("Contract reference"), refs.contract),
        (N_("Project reference"), refs.project),
        (N_("Despatch advice"), refs.despatch),
        (N_("Preceding invoice"), ", ".join(refs.preceding)),
    ]
    return tuple((gettext(label), value) for label, value in facts if value)


def _party(title: str, party: Party) -> ShownParty:
    rows = [("", line) for line in party.address]
    rows += [
        (gettext(N_("Trading name")), party.trading_name or ""),
        (gettext(N_("VAT number")), party.vat_number or ""),
        (gettext(N_("Enterprise number")), party.enterprise_number or ""),
        (gettext(N_("Peppol address")), party.endpoint or ""),
        (gettext(N_("Contact")), ", ".join(party.contact)),
    ]
    return ShownParty(title, party.name or "", tuple((k, v) for k, v in rows if v))


def _line(line: Line, currency: str | None) -> ShownLine:
    price = _number(line.unit_price, 2)
    if line.unit_price is not None and line.base_quantity not in (None, Decimal(1)):
        price = gettext(
            N_("%(price)s per %(quantity)s"), price=price, quantity=_number(line.base_quantity, 0)
        )
    details = [d for d in (line.description, line.note) if d]
    if any(line.period):
        details.append(gettext(N_("Period: %(period)s"), period=_period(line.period)))
    if line.seller_item_id:
        details.append(gettext(N_("Item number: %(id)s"), id=line.seller_item_id))
    details += [
        f"{_allowance_what(a, currency)}: {_money(a.amount, currency)}"
        for a in line.allowances_charges
    ]
    return ShownLine(
        cells=(
            line.id or "",
            line.name or "",
            _number(line.quantity, 0),
            words.unit(line.unit_code),
            price,
            _vat(line.vat_category, line.vat_rate),
            _money(line.net_amount, currency),
        ),
        details=tuple(details),
    )


def _allowance_what(item: AllowanceCharge, currency: str | None) -> str:
    what = gettext(N_("Charge") if item.is_charge else N_("Allowance"))
    if item.reason:
        what = f"{what}: {item.reason}"
    if item.percent is not None and item.base is not None:
        what += " " + gettext(
            N_("(%(percent)s of %(base)s)"),
            percent=_percent(item.percent),
            base=_money(item.base, currency),
        )
    return what


def _totals(invoice: ReadableInvoice) -> Rows:
    t, currency = invoice.totals, invoice.currency
    rows = [
        (N_("Sum of lines"), t.lines),
        (N_("Allowances"), t.allowances),
        (N_("Charges"), t.charges),
        (N_("Total excluding VAT"), t.excl_vat),
        (N_("VAT"), t.vat),
        (N_("Total including VAT"), t.incl_vat),
        (N_("Paid in advance"), t.prepaid),
        (N_("Rounding"), t.rounding),
    ]
    shown_rows = [
        (gettext(label), _money(value, currency)) for label, value in rows if value is not None
    ]
    if invoice.shows_accounting_vat:
        shown_rows.append(
            (
                gettext(N_("VAT in %(currency)s"), currency=invoice.accounting_currency),
                _money(t.vat_accounting, invoice.accounting_currency),
            )
        )
    return tuple(shown_rows)


def _payment(invoice: ReadableInvoice) -> Rows:
    rows: list[tuple[str, str]] = []
    for means in invoice.payment_means:
        rows += [
            (gettext(N_("Payment means")), words.payment_means(means.code)),
            (gettext(N_("IBAN")), means.iban or ""),
            (gettext(N_("BIC")), means.bic or ""),
            (gettext(N_("Account name")), means.account_name or ""),
            (gettext(N_("Card")), means.card or ""),
            (gettext(N_("Mandate")), means.mandate or ""),
        ]
    rows += [
        (gettext(N_("Structured communication")), invoice.payment_reference or ""),
        (gettext(N_("Payment terms")), invoice.payment_terms or ""),
    ]
    return tuple((k, v) for k, v in rows if v)


def _vat(category: str | None, rate: Decimal | None) -> str:
    return " ".join(filter(None, (category, _percent(rate))))


def _money(value: Decimal | None, currency: str | None) -> str:
    if value is None:
        return ""
    if currency is None or len(currency) != 3 or not currency.isalpha():
        return _number(value, 2)
    try:
        return money(value, currency.upper())
    except (KeyError, ValueError):  # a currency code babel does not know
        return f"{_number(value, 2)} {currency}"


def _number(value: Decimal | None, least_digits: int) -> str:
    """Every digit the document wrote (a unit price may have four), at least `least_digits`."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * least_digits if least_digits else ".") + "#" * 6
    return format_decimal(value, format=pattern, locale=LOCALES[i18n.current_language.get()])


def _percent(value: Decimal | None) -> str:
    return "" if value is None else f"{_number(value, 0)} %"


def _day(value: date | None) -> str:
    return day(value) if value else ""


def _period(period: tuple[date | None, date | None]) -> str:
    start, end = period
    if not start and not end:
        return ""
    return f"{_day(start)} – {_day(end)}"
