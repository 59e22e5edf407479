"""The reader and the list they are shown: their window of issue dates, filters from
a query string, a page of the list, and its count and totals.

Always within what `sharing.services` says this user may see, and within the window:
the last seven years, not before the client number's contract start, not before May
2008. Anything else is `NotFound`, exactly like a missing id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from babel.numbers import format_decimal

from iportal import clock, db
from iportal.accounts.identifiers import normalise_client_code
from iportal.documents.reading.amounts import NotAnAmount, parse_amount
from iportal.documents.reading.listing import (
    COUNT_CAP,
    Filters,
    Scope,
    Sort,
    count_query,
    decode_cursor_values,
    page_query,
    totals_query,
)
from iportal.errors import DomainError, InvalidInput, NotFound
from iportal.i18n import N_, current_language
from iportal.pagination import BAD_CURSOR, clamp_limit, decode_cursor, encode_cursor
from iportal.sharing.services import (
    VisibleClientNumbers,
    visible_client_number_id,
    visible_client_numbers,
)

T = TypeVar("T")
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
    # The personal API token the reader came with (None: a browser session); each
    # opening's audit event says which.
    token_id: int | None = None
    token_name: str = ""

    @property
    def user_id(self) -> int:
        return self.scope.user_id

    @property
    def via(self) -> dict[str, object]:
        """How the reader came, as the audit records it."""
        if self.token_id is None:
            return {"via": "session"}
        return {"via": "token", "token_id": self.token_id, "token_name": self.token_name}


def reader_for(
    user_id: int, today: date | None = None, *, token_id: int | None = None, token_name: str = ""
) -> Reader:
    """The user as a reader of documents, with the window of `today` (the clock's), and
    the personal API token they came with, if any."""
    oldest = max(window_start(today or clock.today()), PORTAL_START)
    return Reader(Scope(user_id, oldest), token_id, token_name)


class InvalidFilters(InvalidInput):
    """Filters that cannot be read: `problems` holds each one's reason by the name of
    its field (the page shows each beside its field); the message is the first's, which
    names its field (what the API answers)."""

    def __init__(self, problems: dict[str, DomainError]) -> None:
        first = next(iter(problems.values()))
        super().__init__(first.message, **first.params)
        self.problems = problems


class UnknownClientCode(NotFound):
    """A client code in the filters that the reader does not see (or that does not
    exist: the same answer); `problems` as `InvalidFilters`'s."""

    def __init__(self, code: str) -> None:
        super().__init__(N_("Client code %(code)s is unknown."), code=code)
        self.problems: dict[str, DomainError] = {"client_code": self}


def _date(name: str, raw: str | None) -> date | None:
    if not raw or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            N_("The %(field)s “%(value)s” is not a date (YYYY-MM-DD)."), field=name, value=raw
        ) from None


def _amount(name: str, raw: str | None, language: str) -> Decimal | None:
    if not raw or not raw.strip():
        return None
    try:
        return parse_amount(raw, language)
    except NotAnAmount:
        raise InvalidInput(
            N_("The %(field)s “%(value)s” is not an amount (like %(example)s)."),
            field=name,
            value=raw,
            example=format_decimal(Decimal("1234.56"), format="#,##0.00", locale=language),
        ) from None


async def parse_filters(
    reader: Reader, query: dict[str, str | None], language: str | None = None
) -> Filters:
    """Filters from a query string, amounts read as people write them in `language`
    (the request's when not given: see `amounts.parse_amount`). Every filter that
    cannot be read is refused at once (`InvalidFilters`, each with its reason); a client
    code the reader cannot see is refused like an unknown one (`UnknownClientCode`: the
    list would be empty anyway)."""
    language = language or current_language.get()
    problems: dict[str, DomainError] = {}

    def read(name: str, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except InvalidInput as error:
            problems[name] = error
            return None

    kind = query.get("type") or None
    if kind not in (None, "invoice", "credit_note"):
        problems["type"] = InvalidInput(
            N_("The type “%(value)s” is not invoice or credit_note."), value=kind
        )
        kind = None
    number = (query.get("number") or "").strip()
    asked_code = query.get("client_code") or ""
    code = read("client_code", lambda: normalise_client_code(asked_code)) if asked_code else None
    filters = Filters(
        # An unknown company, or one the reader does not see, is an empty list: no 404,
        # which would tell which company names exist.
        company=(query.get("company") or "").strip() or None,
        type=kind,
        number=None if not number or number.endswith("*") else number,
        number_prefix=number[:-1]
        if number.endswith("*") and len(number) > 1
        else ((query.get("number_prefix") or "").strip().rstrip("*") or None),
        issued_from=read("issued_from", lambda: _date("issued_from", query.get("issued_from"))),
        issued_to=read("issued_to", lambda: _date("issued_to", query.get("issued_to"))),
        amount_min=read(
            "amount_min", lambda: _amount("amount_min", query.get("amount_min"), language)
        ),
        amount_max=read(
            "amount_max", lambda: _amount("amount_max", query.get("amount_max"), language)
        ),
        unread=(query.get("unread") or "").lower() in ("1", "true", "yes", "on"),
    )
    if problems:
        raise InvalidFilters(problems)
    if code:
        visible = await visible_client_number_id(reader.user_id, code)
        if visible is None:
            raise UnknownClientCode(asked_code)
        return replace(filters, client_number_ids=(visible,))
    return filters


@dataclass(frozen=True)
class ListedDocument:
    """A document as the list shows it, with this reader's read mark."""

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
    has_pdf: bool
    read: bool


@dataclass(frozen=True)
class DocumentPage:
    items: list[ListedDocument]
    next_cursor: str | None
    sort: Sort


async def list_documents(
    reader: Reader, filters: Filters, sort: Sort, cursor: str | None, limit: int | None
) -> DocumentPage:
    """A page of the reader's documents matching the filters, in the sort's order, and
    the cursor of the next page (None on the last)."""
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
    items = [ListedDocument(**dict(zip(public, row, strict=False))) for row in rows[:size]]
    return DocumentPage(items, next_cursor, sort)


def _is_key(name: str) -> bool:
    return name.startswith("k") and name[1:].isdigit()


@dataclass(frozen=True)
class CurrencyTotal:
    """The documents of one currency: how many, and their sum including VAT."""

    currency: str
    documents: int
    total: Decimal


@dataclass(frozen=True)
class Overview:
    count: int
    capped: bool
    totals: list[CurrencyTotal]


async def overview(reader: Reader, filters: Filters, cap: int = COUNT_CAP) -> Overview:
    """The number of matching documents when it is cheap (up to `cap`), and then the
    totals including VAT per currency, credit notes counted negatively."""
    sql = count_query(reader.scope, filters, cap)
    count = int((await db.fetch(sql.text, *sql.args, custom_plan=True))[0]["n"])
    if count > cap:
        return Overview(cap, True, [])
    sql = totals_query(reader.scope, filters)
    totals = await db.fetch(sql.text, *sql.args, custom_plan=True)
    return Overview(
        count, False, [CurrencyTotal(row["currency"], row["n"], row["total"]) for row in totals]
    )


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
