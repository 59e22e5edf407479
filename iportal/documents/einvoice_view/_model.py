"""The readable invoice: what EN 16931 carries and a person needs, in one frozen tree.

Built from a UBL or CII document by `_ubl` and `_cii`; shown by the HTML page and the
PDF alike, so both say the same. Values stay as the document writes them (amounts as
`Decimal`, codes as codes); words and locale formats are the view's business. Every
field may be missing: a view shows what there is and never refuses a document that
publishing accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Syntax = Literal["ubl", "cii"]


@dataclass(frozen=True)
class Party:
    """A seller (BG-4), buyer (BG-7) or payee (BG-10)."""

    name: str | None = None
    trading_name: str | None = None
    address: tuple[str, ...] = ()  # lines as written, the country code last
    vat_number: str | None = None  # BT-31 / BT-48
    enterprise_number: str | None = None  # legal registration, BT-30 / BT-47
    endpoint: str | None = None  # Peppol electronic address, "0208:0123456789"
    contact: tuple[str, ...] = ()  # name, phone, e-mail


@dataclass(frozen=True)
class AllowanceCharge:
    """A document-level (BG-20/21) or line-level (BG-27/28) allowance or charge."""

    is_charge: bool
    amount: Decimal | None
    base: Decimal | None = None
    percent: Decimal | None = None
    reason: str | None = None
    vat_category: str | None = None
    vat_rate: Decimal | None = None


@dataclass(frozen=True)
class Line:
    """An invoice line (BG-25)."""

    id: str | None
    name: str | None
    description: str | None
    quantity: Decimal | None
    unit_code: str | None
    unit_price: Decimal | None
    base_quantity: Decimal | None
    net_amount: Decimal | None  # BT-131, after the line's allowances and charges
    vat_category: str | None
    vat_rate: Decimal | None
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    period: tuple[date | None, date | None] = (None, None)
    note: str | None = None
    seller_item_id: str | None = None


@dataclass(frozen=True)
class VatBreakdown:
    """One VAT category and rate (BG-23)."""

    category: str | None
    rate: Decimal | None
    taxable: Decimal | None
    vat: Decimal | None
    exemption_reason: str | None = None


@dataclass(frozen=True)
class Totals:
    """The document totals (BG-22) as stated, never recomputed."""

    lines: Decimal | None = None  # BT-106
    allowances: Decimal | None = None  # BT-107
    charges: Decimal | None = None  # BT-108
    excl_vat: Decimal | None = None  # BT-109
    vat: Decimal | None = None  # BT-110
    incl_vat: Decimal | None = None  # BT-112
    prepaid: Decimal | None = None  # BT-113
    rounding: Decimal | None = None  # BT-114
    payable: Decimal | None = None  # BT-115
    vat_accounting: Decimal | None = None  # BT-111, in the accounting currency


@dataclass(frozen=True)
class PaymentMeans:
    """How to pay (BG-16): a code, an account, a card or a mandate."""

    code: str | None
    iban: str | None = None
    account_name: str | None = None
    bic: str | None = None
    mandate: str | None = None
    card: str | None = None


# A declared name goes into a header and a page: kept short.
NAME_MAX_LENGTH = 120


@dataclass(frozen=True)
class Attachment:
    """A supporting document (BG-24): embedded (`content`, None when it is not or its
    base64 does not decode), or pointed to (`uri`)."""

    id: str | None
    description: str | None
    filename: str | None
    mime_code: str | None
    uri: str | None = None
    content: bytes | None = None

    def name(self, position: int) -> str:
        """The name its sender declared (the file name, else the reference's ID), or
        `attachment-<position>`."""
        declared = " ".join((self.filename or self.id or "").split())
        return declared[:NAME_MAX_LENGTH] or f"attachment-{position}"

    @property
    def declared_type(self) -> str:
        """The declared media type, bare and in lower case ("" when none)."""
        return (self.mime_code or "").split(";")[0].strip().lower()[:NAME_MAX_LENGTH]


@dataclass(frozen=True)
class References:
    buyer: str | None = None  # BT-10
    order: str | None = None  # BT-13
    sales_order: str | None = None  # BT-14
    contract: str | None = None  # BT-12
    project: str | None = None  # BT-11
    despatch: str | None = None  # BT-16
    preceding: tuple[str, ...] = ()  # BT-25


@dataclass(frozen=True)
class ReadableInvoice:
    syntax: Syntax
    credit_note: bool
    type_code: str | None
    number: str | None
    issue_date: date | None
    due_date: date | None
    tax_point_date: date | None
    period: tuple[date | None, date | None]
    delivery_date: date | None
    currency: str | None
    accounting_currency: str | None
    seller: Party
    buyer: Party
    payee: Party | None
    references: References
    lines: tuple[Line, ...]
    allowances_charges: tuple[AllowanceCharge, ...]
    vat_breakdown: tuple[VatBreakdown, ...]
    totals: Totals
    payment_means: tuple[PaymentMeans, ...]
    payment_reference: str | None  # BT-83: the structured communication
    payment_terms: str | None
    notes: tuple[str, ...]
    attachments: tuple[Attachment, ...]

    @property
    def shows_accounting_vat(self) -> bool:
        """The VAT in the accounting currency is shown when that currency differs."""
        return (
            self.totals.vat_accounting is not None
            and self.accounting_currency is not None
            and self.accounting_currency != self.currency
        )
