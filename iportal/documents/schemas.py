"""Request and response types of the documents API. Money is Decimal, sent as a string."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from litestar.datastructures import UploadFile


@dataclass
class PublishForm:
    """`multipart/form-data`: the file (PDF or UBL XML) and optional JSON metadata."""

    file: UploadFile
    metadata: str | None = None


@dataclass
class PublishedDocument:
    id: int | None
    client_code: str | None
    type: str
    number: str
    issue_date: date
    due_date: date | None
    currency: str
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    status: str
    # Published anyway, but the issuer should know: an embedded file left out, and why.
    warnings: list[str] = field(default_factory=list)


@dataclass
class DocumentItem:
    id: int
    client_code: str
    type: str
    number: str
    issue_date: date
    due_date: date | None
    currency: str
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    read: bool
    type_code: str | None = None
    has_pdf: bool = True
    has_xml: bool = False


@dataclass
class DocumentList:
    items: list[DocumentItem]
    next_cursor: str | None


@dataclass
class Total:
    currency: str
    documents: int
    total_incl_vat: Decimal


@dataclass
class DocumentSummary:
    """`count` is exact unless `more_than` is true; totals then stay empty."""

    count: int
    more_than: bool
    totals: list[Total]


@dataclass
class MarkRead:
    ids: list[int]


@dataclass
class Marked:
    marked: int


@dataclass
class AttachmentItem:
    """A file embedded in the e-invoice: `n` names it in its download's path; `type`
    is the type its sender declared."""

    n: int
    name: str
    type: str
    size: int


@dataclass
class AttachmentList:
    items: list[AttachmentItem]
