"""The document list's SQL: filters, any column sorted, keyset pages — fast at any size.

Every query reads `visible_document`, the database's per-user copy of the list's
columns for exactly the documents the user may see (kept in step by triggers, see
the sharing migrations), from the first issue date of the window on. A page of the
two usual sorts (issue date, amount) is one range of a covering index, started at
the cursor: it reads about `limit` index entries however many documents the user
sees, and never uses OFFSET. Ties are broken by the document id, so pages never
repeat or skip a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from iportal.db import Statement
from iportal.errors import InvalidInput
from iportal.i18n import N_

COUNT_CAP = 10_000
CASE_VARIANTS = 4  # spellings of a number compared one by one; beyond, upper()


@dataclass(frozen=True)
class Key:
    """One sort key: its SQL and how a cursor value is read back."""

    sql: str
    parse: Any


SORT_KEYS: dict[str, list[Key]] = {
    "issue_date": [Key("v.issue_date", date.fromisoformat)],
    "amount_incl_vat": [Key("v.amount_incl_vat", Decimal)],
    "number": [Key("v.number", str)],
    "due_date": [Key("coalesce(v.due_date, v.issue_date)", date.fromisoformat)],
    "type": [Key("v.type", str), Key("v.issue_date", date.fromisoformat)],
    "client_code": [Key("c.client_code", str), Key("v.issue_date", date.fromisoformat)],
    # The company's name as the client number carries it (the `company` filter's value).
    "company": [
        Key("c.company_name", str),
        Key("c.client_code", str),
        Key("v.issue_date", date.fromisoformat),
    ],
}
# Sorted by client code or company: within one number the newest document comes first.
GROUPING_SORTS = ("client_code", "company")
DEFAULT_SORT = "-issue_date"


@dataclass(frozen=True)
class Sort:
    column: str
    descending: bool

    @classmethod
    def parse(cls, raw: str | None) -> Sort:
        raw = (raw or DEFAULT_SORT).strip()
        column = raw.lstrip("-")
        if column not in SORT_KEYS:
            raise InvalidInput(
                N_("Documents cannot be sorted by “%(value)s”; choose one of %(columns)s."),
                value=raw,
                columns=", ".join(SORT_KEYS),
            )
        return cls(column, raw.startswith("-"))

    def directions(self) -> list[bool]:
        """Descending or not, per key and for the id. Within a client code the newest
        document comes first whichever way the codes (or companies) are sorted."""
        if self.column == "client_code":
            return [self.descending, True, True]
        if self.column == "company":
            return [self.descending, self.descending, True, True]
        return [self.descending] * (len(SORT_KEYS[self.column]) + 1)

    @property
    def name(self) -> str:
        return f"-{self.column}" if self.descending else self.column


@dataclass(frozen=True)
class Filters:
    client_number_ids: tuple[int, ...] | None = None
    company: str | None = None  # a company name, exactly as the client numbers carry it
    type: str | None = None
    number: str | None = None
    number_prefix: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    unread: bool = False


@dataclass(frozen=True)
class Scope:
    """Whose documents: a user's visible ones issued on or after `oldest` (the window;
    each number's contract start is already applied by the database)."""

    user_id: int
    oldest: date


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def case_variants(text: str, limit: int = CASE_VARIANTS) -> list[str] | None:
    """Every way of writing `text` with its letters in either case, when it is ASCII
    and that makes at most `limit` spellings (`F2024` → `F2024`, `f2024`); else None."""
    if not text.isascii() or 2 ** sum(c.isalpha() for c in text) > limit:
        return None
    spellings = [""]
    for c in text:
        cases = sorted({c.upper(), c.lower()})
        spellings = [start + case for start in spellings for case in cases]
    return spellings


def _number_condition(sql: Statement, number: str, *, prefix: bool) -> str:
    """The number, or the start of it, whatever its case. With few letters, as a few
    spellings, each compared as it is stored (`LIKE ANY`): `upper()` of every index
    entry read cost 0.6 ms on an accountant's 17,500 documents, half the query. Both
    ways agree on numbers written in ASCII, which is what issuers print."""
    spellings = case_variants(number)
    if spellings is None:
        if prefix:
            return f"upper(v.number) LIKE upper({sql.bind(_escape_like(number) + '%')})"
        return f"upper(v.number) = upper({sql.bind(number)})"
    if prefix:
        patterns = [_escape_like(spelling) + "%" for spelling in spellings]
        return f"v.number LIKE ANY({sql.bind(patterns)}::text[])"
    return f"v.number = ANY({sql.bind(spellings)}::text[])"


def _where(sql: Statement, scope: Scope, filters: Filters) -> None:
    """The user's documents in the window, then the filters, on `visible_document v`."""
    user = sql.bind(scope.user_id)
    sql.add(f"WHERE v.user_id = {user} AND v.issue_date >= {sql.bind(scope.oldest)}")
    # Access for a time ends by itself: checked here, on the index entry (the column is
    # in the covering indexes), by the one SQL function every reader uses.
    sql.add("AND still_visible(v.access_ends_at)")
    if filters.client_number_ids is not None:
        numbers = sql.bind(list(filters.client_number_ids))
        sql.add(f"AND v.client_number_id = ANY({numbers}::int[])")
    if filters.company is not None:
        # A semi-join on the user's own visible numbers: a name they do not see matches
        # nothing, and the list stays one range of the user's index on visible_document.
        sql.add(
            "AND v.client_number_id IN (SELECT w.client_number_id FROM visible_client_number w "
            f"WHERE w.user_id = {user} AND w.company_name = {sql.bind(filters.company)})"
        )
    if filters.type is not None:
        sql.add(f"AND v.type = {sql.bind(filters.type)}")
    # Numbers match whatever their case (`f2026*` finds F2026110001), checked on the
    # covering index's column so the plan stays index-only; see `_number_condition`.
    if filters.number is not None:
        sql.add(f"AND {_number_condition(sql, filters.number, prefix=False)}")
    if filters.number_prefix is not None:
        sql.add(f"AND {_number_condition(sql, filters.number_prefix, prefix=True)}")
    if filters.issued_from is not None:
        sql.add(f"AND v.issue_date >= {sql.bind(filters.issued_from)}")
    if filters.issued_to is not None:
        sql.add(f"AND v.issue_date <= {sql.bind(filters.issued_to)}")
    if filters.amount_min is not None:
        sql.add(f"AND v.amount_incl_vat >= {sql.bind(filters.amount_min)}")
    if filters.amount_max is not None:
        sql.add(f"AND v.amount_incl_vat <= {sql.bind(filters.amount_max)}")
    if filters.unread:
        sql.add(
            "AND NOT EXISTS (SELECT 1 FROM document_read_mark r "
            f"WHERE r.user_id = {user} AND r.document_id = v.document_id)"
        )


def _after(sql: Statement, keys: list[str], directions: list[bool], values: list[Any]) -> str:
    """ "Comes after the cursor" in the list's order. Keys all in one direction are one
    row comparison, which the index seeks to; mixed directions spell it out."""
    marks = [sql.bind(value) for value in values]
    if len(set(directions)) == 1:
        beyond = "<" if directions[0] else ">"
        return f"({', '.join(keys)}) {beyond} ({', '.join(marks)})"
    return _spelled_out(keys, directions, marks)


def _spelled_out(keys: list[str], directions: list[bool], marks: list[str]) -> str:
    key, descending, mark = keys[0], directions[0], marks[0]
    beyond = "<" if descending else ">"
    if len(keys) == 1:
        return f"{key} {beyond} {mark}"
    rest = _spelled_out(keys[1:], directions[1:], marks[1:])
    return f"({key} {beyond} {mark} OR ({key} = {mark} AND {rest}))"


def decode_cursor_values(sort: Sort, raw: list[Any]) -> list[Any]:
    keys = SORT_KEYS[sort.column]
    if len(raw) != len(keys) + 1:
        raise ValueError("cursor does not fit the sort")
    return [key.parse(value) for key, value in zip(keys, raw[:-1], strict=False)] + [int(raw[-1])]


def _order(names: list[str], directions: list[bool]) -> str:
    return ", ".join(
        f"{name} {'DESC' if descending else 'ASC'}"
        for name, descending in zip(names, directions, strict=True)
    )


def _source(sort: Sort) -> str:
    if sort.column in GROUPING_SORTS:
        return "FROM visible_document v JOIN client_number c ON c.id = v.client_number_id"
    return "FROM visible_document v"


def page_query(
    scope: Scope, filters: Filters, sort: Sort, after: list[Any] | None, limit: int
) -> Statement:
    """Ids and sort keys of the next `limit + 1` documents (one more tells if there is
    a next page), then their rows with the client code and this user's read mark."""
    keys = [k.sql for k in SORT_KEYS[sort.column]] + ["v.document_id"]
    directions = sort.directions()
    selected = ", ".join(f"{key} AS k{i}" for i, key in enumerate(keys[:-1]))
    sql = Statement(f"WITH page AS (SELECT v.document_id AS id, {selected} {_source(sort)}")
    _where(sql, scope, filters)
    if after is not None:
        sql.add(f"AND {_after(sql, keys, directions, after)}")
    sql.add(f"ORDER BY {_order(keys, directions)} LIMIT {sql.bind(limit + 1)})")
    outer = [f"page.k{i}" for i in range(len(keys) - 1)] + ["page.id"]
    sql.add(
        "SELECT d.id, c.client_code, d.type, d.type_code, d.number, d.issue_date, d.due_date, "
        "d.currency, d.amount_excl_vat, d.vat_amount, d.amount_incl_vat, d.structured_kind, "
        "d.pdf_blob_hash IS NOT NULL AS has_pdf, r.id IS NOT NULL AS read, "
        + ", ".join(outer[:-1])
        + " FROM page JOIN document d ON d.id = page.id "
        "JOIN client_number c ON c.id = d.client_number_id "
        f"LEFT JOIN document_read_mark r ON r.user_id = {sql.bind(scope.user_id)} "
        "AND r.document_id = d.id"
    )
    sql.add(f"ORDER BY {_order(outer, directions)}")
    return sql


def count_query(scope: Scope, filters: Filters, cap: int = COUNT_CAP) -> Statement:
    """How many documents match, counting no further than `cap + 1`."""
    sql = Statement("SELECT count(*) AS n FROM (SELECT 1 FROM visible_document v")
    _where(sql, scope, filters)
    sql.add(f"LIMIT {sql.bind(cap + 1)}) counted")
    return sql


def totals_query(scope: Scope, filters: Filters) -> Statement:
    """Sum including VAT per currency, credit notes counted negatively."""
    sql = Statement(
        "SELECT v.currency, count(*) AS n, sum(CASE WHEN v.type = 'credit_note' "
        "THEN -v.amount_incl_vat ELSE v.amount_incl_vat END) AS total FROM visible_document v"
    )
    _where(sql, scope, filters)
    sql.add("GROUP BY v.currency ORDER BY v.currency")
    return sql


def export_audit_query(scope: Scope, filters: Filters, ip: str, detail: str) -> Statement:
    """Records the export: one `document_exported` event per account whose numbers the
    selection holds, with that account's count of documents (an account's main contact
    learns nothing of another's), in one statement; returns the events' ids."""
    sql = Statement("WITH exported AS (SELECT c.account_id, count(*) AS n, min(c.id) AS first,")
    sql.add("count(DISTINCT c.id) AS numbers FROM visible_document v")
    sql.add("JOIN client_number c ON c.id = v.client_number_id")
    _where(sql, scope, filters)
    sql.add("GROUP BY c.account_id)")
    sql.add(
        "INSERT INTO audit_event (kind, actor_id, account_id, client_number_id, ip, detail) "
        f"SELECT 'document_exported', {sql.bind(scope.user_id)}, account_id, "
        f"CASE WHEN numbers = 1 THEN first END, {sql.bind(ip)}, "
        f"{sql.bind(detail)}::jsonb || jsonb_build_object('count', n) "
        "FROM exported ORDER BY account_id RETURNING id"
    )
    return sql


def export_query(scope: Scope, filters: Filters, sort: Sort) -> Statement:
    """Every matching document in the list's order, for the CSV, XLSX and ZIP exports."""
    keys = [k.sql for k in SORT_KEYS[sort.column]] + ["v.document_id"]
    sql = Statement(
        "SELECT d.id, c.client_code, c.company_name, d.type, d.type_code, d.number, d.issue_date, "
        "d.due_date, d.currency, d.amount_excl_vat, d.vat_amount, d.amount_incl_vat, "
        "d.pdf_blob_hash, d.xml_blob_hash, d.structured_kind "
        "FROM visible_document v JOIN document d ON d.id = v.document_id "
        "JOIN client_number c ON c.id = v.client_number_id"
    )
    _where(sql, scope, filters)
    sql.add(f"ORDER BY {_order(keys, sort.directions())}")
    return sql
