"""Reading documents: the list with its filters, one document, its PDF and XML, read
marks and duplicates — always within what `sharing.services` says this user may see,
and within the window: the last seven years, not before the client number's contract
start, not before May 2008. Anything else is `NotFound`, exactly like a missing id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from iportal import clock, db
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services import record_audit_event
from iportal.documents.blobs import BlobStore
from iportal.documents.listing import (
    COUNT_CAP,
    Filters,
    Scope,
    Sort,
    count_query,
    decode_cursor_values,
    page_query,
    totals_query,
)
from iportal.documents.tables import Document, DuplicateRequest, ReadMark
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_
from iportal.pagination import BAD_CURSOR, clamp_limit, decode_cursor, encode_cursor
from iportal.sharing.services import (
    VisibleClientNumbers,
    visible_client_number_id,
    visible_client_numbers,
)

PORTAL_START = date(2008, 5, 1)
WINDOW_YEARS = 7


def window_start(today: date) -> date:
    """The oldest issue date shown: seven years back to the day (28 Feb for 29 Feb)."""
    try:
        return today.replace(year=today.year - WINDOW_YEARS)
    except ValueError:
        return today.replace(year=today.year - WINDOW_YEARS, day=28)


@dataclass(frozen=True)
class Reader:
    """A user and the window of issue dates they are shown. Which documents they may
    see is the database's `visible_document`, which every query here reads."""

    scope: Scope

    @property
    def user_id(self) -> int:
        return self.scope.user_id


def reader_for(user_id: int, today: date | None = None) -> Reader:
    oldest = max(window_start(today or clock.today()), PORTAL_START)
    return Reader(Scope(user_id, oldest))


def _date(name: str, raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            N_("The %(field)s “%(value)s” is not a date (YYYY-MM-DD)."), field=name, value=raw
        ) from None


def _amount(name: str, raw: str | None) -> Decimal | None:
    if not raw:
        return None
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise InvalidInput(
            N_("The %(field)s “%(value)s” is not an amount (like 1234.56)."), field=name, value=raw
        )
    return value


async def parse_filters(reader: Reader, query: dict[str, str | None]) -> Filters:
    """Filters from a query string; a client code the reader cannot see is refused
    like an unknown one (the list would be empty anyway)."""
    number_ids = None
    if query.get("client_code"):
        code = normalise_client_code(query["client_code"] or "")
        visible = await visible_client_number_id(reader.user_id, code)
        if visible is None:
            raise NotFound(N_("Client code %(code)s is unknown."), code=query["client_code"])
        number_ids = (visible,)
    kind = query.get("type") or None
    if kind not in (None, "invoice", "credit_note"):
        raise InvalidInput(N_("The type “%(value)s” is not invoice or credit_note."), value=kind)
    number = (query.get("number") or "").strip()
    return Filters(
        client_number_ids=number_ids,
        type=kind,
        number=None if not number or number.endswith("*") else number,
        number_prefix=number[:-1]
        if number.endswith("*") and len(number) > 1
        else ((query.get("number_prefix") or "").strip() or None),
        issued_from=_date("issued_from", query.get("issued_from")),
        issued_to=_date("issued_to", query.get("issued_to")),
        amount_min=_amount("amount_min", query.get("amount_min")),
        amount_max=_amount("amount_max", query.get("amount_max")),
        unread=(query.get("unread") or "").lower() in ("1", "true", "yes", "on"),
    )


@dataclass(frozen=True)
class DocumentPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    sort: Sort


async def list_documents(
    reader: Reader, filters: Filters, sort: Sort, cursor: str | None, limit: int | None
) -> DocumentPage:
    size = clamp_limit(limit)
    after = None
    raw = decode_cursor(cursor)
    if raw is not None:
        try:
            after = decode_cursor_values(sort, raw)
        except (ValueError, TypeError, InvalidOperation):
            raise InvalidInput(BAD_CURSOR) from None
    sql = page_query(reader.scope, filters, sort, after, size)
    rows = await db.fetch(sql.text, *sql.args, custom_plan=True)
    if not rows:
        return DocumentPage([], None, sort)
    names = list(rows[0].keys())
    # The sort keys `k0`, `k1`… come last, after the columns shown.
    public = [name for name in names if not _is_key(name)]
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        keys = len(names) - len(public)
        next_cursor = encode_cursor([*(last[f"k{i}"] for i in range(keys)), last["id"]])
    items = [dict(zip(public, row, strict=False)) for row in rows[:size]]
    return DocumentPage(items, next_cursor, sort)


def _is_key(name: str) -> bool:
    return name.startswith("k") and name[1:].isdigit()


@dataclass(frozen=True)
class Overview:
    count: int
    capped: bool
    totals: list[dict[str, Any]]


async def overview(reader: Reader, filters: Filters, cap: int = COUNT_CAP) -> Overview:
    """The number of matching documents when it is cheap (up to `cap`), and then the
    totals including VAT per currency, credit notes counted negatively."""
    sql = count_query(reader.scope, filters, cap)
    count = int((await db.fetch(sql.text, *sql.args, custom_plan=True))[0]["n"])
    if count > cap:
        return Overview(cap, True, [])
    sql = totals_query(reader.scope, filters)
    totals = await db.fetch(sql.text, *sql.args, custom_plan=True)
    return Overview(count, False, [dict(row) for row in totals])


@dataclass(frozen=True)
class ListView:
    """What the documents page shows: a page, the overview of its filters, and the
    client numbers of its drop-down."""

    page: DocumentPage
    overview: Overview
    numbers: VisibleClientNumbers


async def list_view(
    reader: Reader, filters: Filters, sort: Sort, cursor: str | None, limit: int | None
) -> ListView:
    """The page's three reads at the same time, each on a connection of its own."""
    listed = list_documents(reader, filters, sort, cursor, limit)
    (page, summary), numbers = await db.together(
        db.together(listed, overview(reader, filters)),
        visible_client_numbers(reader.user_id),
    )
    return ListView(page, summary, numbers)


# A document is the reader's when their copy of it exists (the whole primary key of
# `visible_document`: one index probe) and it is inside the window.
VISIBLE_DOCUMENT_SQL = """
SELECT d.*, c.client_code,
       EXISTS (SELECT 1 FROM document_read_mark r
                WHERE r.user_id = v.user_id AND r.document_id = d.id) AS read
  FROM document d
  JOIN visible_document v ON v.user_id = {} AND v.client_number_id = d.client_number_id
                         AND v.issue_date = d.issue_date AND v.document_id = d.id
  JOIN client_number c ON c.id = d.client_number_id
 WHERE d.id = {} AND d.issue_date >= {}
"""
MARK_READ_SQL = """
INSERT INTO document_read_mark (user_id, document_id)
SELECT v.user_id, d.id
  FROM document d
  JOIN visible_document v ON v.user_id = {} AND v.client_number_id = d.client_number_id
                         AND v.issue_date = d.issue_date AND v.document_id = d.id
 WHERE d.id = ANY({}::bigint[]) AND d.issue_date >= {}
ON CONFLICT ON CONSTRAINT read_mark_once_per_user DO NOTHING
RETURNING document_id
"""


async def visible_document(reader: Reader, document_id: int) -> dict[str, Any]:
    """One document the reader may see (in the window), or `NotFound`."""
    rows = await Document.raw(
        VISIBLE_DOCUMENT_SQL, reader.user_id, document_id, reader.scope.oldest
    )
    if not rows:
        raise NotFound()
    return rows[0]


async def mark_read(reader: Reader, document_ids: list[int]) -> int:
    """Marks the given documents read for this reader; ids it may not see are ignored."""
    if not document_ids:
        return 0
    rows = await ReadMark.raw(MARK_READ_SQL, reader.user_id, document_ids, reader.scope.oldest)
    return len(rows)


async def open_pdf(
    reader: Reader, document_id: int, blobs: BlobStore, ip: str = ""
) -> tuple[dict[str, Any], bytes]:
    """The PDF, which marks the document read for this reader (and is recorded)."""
    document = await visible_document(reader, document_id)
    if document["pdf_blob_hash"] is None:
        raise NotFound(N_("This document has no PDF; download its XML instead."))
    content = blobs.get(document["pdf_blob_hash"])
    if await mark_read(reader, [document_id]):
        await record_audit_event(
            "document_opened",
            actor_id=reader.user_id,
            client_number_id=document["client_number_id"],
            document_id=document_id,
            ip=ip,
        )
    return document, content


async def document_xml(
    reader: Reader, document_id: int, blobs: BlobStore
) -> tuple[dict[str, Any], bytes]:
    document = await visible_document(reader, document_id)
    if document["xml_blob_hash"] is None:
        raise NotFound(N_("This document was not published with structured data (XML)."))
    return document, blobs.get(document["xml_blob_hash"])


async def request_duplicate(
    reader: Reader, document_id: int, blobs: BlobStore, ip: str = ""
) -> tuple[dict[str, Any], bytes]:
    """A copy of the PDF stamped DUPLICATE with today's date; logged and audited."""
    from iportal.documents.stamping import stamp_duplicate

    document, original = await open_pdf(reader, document_id, blobs, ip)
    stamped = stamp_duplicate(original, clock.today())
    await DuplicateRequest.insert(
        DuplicateRequest(document=document_id, user=reader.user_id, delivered_at=clock.utcnow())
    )
    await record_audit_event(
        "duplicate_requested",
        actor_id=reader.user_id,
        client_number_id=document["client_number_id"],
        document_id=document_id,
        ip=ip,
    )
    return document, stamped


def file_name(document: dict[str, Any], extension: str) -> str:
    """`DL20012345_invoice_F2024-00123.pdf`: safe characters only."""
    number = "".join(c if c.isalnum() or c in "-_." else "-" for c in document["number"])
    return f"{document['client_code']}_{document['type']}_{number}.{extension}"
