"""Request and response types of the documents API. Money is Decimal, sent as a string."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
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


@dataclass
class IssuerDocument:
    id: int
    client_code: str
    type: str
    type_code: str | None
    number: str
    issue_date: date
    due_date: date | None
    currency: str
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal
    structured_kind: str
    published_at: datetime


@dataclass
class IssuerDocumentPage:
    items: list[IssuerDocument]
    next_cursor: str | None
