"""The document list's SQL: filters, any column sorted, keyset pages — fast at any size.

Every query names its client numbers (the caller's visible ones, from
`sharing.services`). For each number a LATERAL subquery takes at most one page
of ids from that number's covering index, in the list's order and after the
cursor; the pages are merged and cut. So a page reads about `limit` index
entries per client number, never the whole visible set, and never OFFSET.
Ties are broken by the document id, so pages never repeat or skip a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from iportal.errors import InvalidInput
from iportal.i18n import N_

COUNT_CAP = 10_000


@dataclass(frozen=True)
class Key:
    """One sort key: its SQL, whether it is the client code (constant per number),
    and how a cursor value is read back."""

    sql: str
    parse: Any
    per_number: bool = False


SORT_KEYS: dict[str, list[Key]] = {
    "issue_date": [Key("d.issue_date", date.fromisoformat)],
    "amount_incl_vat": [Key("d.amount_incl_vat", Decimal)],
    "number": [Key("d.number", str)],
    "due_date": [Key("coalesce(d.due_date, d.issue_date)", date.fromisoformat)],
    "type": [Key("d.type", str), Key("d.issue_date", date.fromisoformat)],
    "client_code": [Key("cn.code", str, per_number=True), Key("d.issue_date", date.fromisoformat)],
}
DEFAULT_SORT = "-issue_date"
# Sorts whose first key bounds each number's read in a first pass, with the values
# that stand for "no bound" in either direction.
BOUNDS = {
    "issue_date": ("'-infinity'::date", "'infinity'::date"),
    "amount_incl_vat": ("'-Infinity'::numeric", "'Infinity'::numeric"),
}


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
        document comes first whichever way the codes are sorted."""
        if self.column == "client_code":
            return [self.descending, True, True]
        return [self.descending] * (len(SORT_KEYS[self.column]) + 1)

    @property
    def name(self) -> str:
        return f"-{self.column}" if self.descending else self.column


@dataclass(frozen=True)
class Filters:
    client_number_ids: tuple[int, ...] | None = None
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
    """The client numbers a user may see, each with the first issue date shown."""

    ids: tuple[int, ...]
    codes: tuple[str, ...]
    since: tuple[date, ...]


@dataclass
class Sql:
    """A statement with `{}` placeholders and its parameters, built piece by piece."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, text: str, *params: Any) -> Sql:
        self.parts.append(text)
        self.params.extend(params)
        return self

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(sql: Sql, filters: Filters, user_id: int) -> None:
    if filters.type is not None:
        sql.add("AND d.type = {}", filters.type)
    if filters.number is not None:
        sql.add("AND d.number = {}", filters.number)
    if filters.number_prefix is not None:
        sql.add("AND d.number LIKE {}", _escape_like(filters.number_prefix) + "%")
    if filters.issued_from is not None:
        sql.add("AND d.issue_date >= {}", filters.issued_from)
    if filters.issued_to is not None:
        sql.add("AND d.issue_date <= {}", filters.issued_to)
    if filters.amount_min is not None:
        sql.add("AND d.amount_incl_vat >= {}", filters.amount_min)
    if filters.amount_max is not None:
        sql.add("AND d.amount_incl_vat <= {}", filters.amount_max)
    if filters.unread:
        # One hashed set of the reader's marks, probed per row: cheaper than an
        # anti-join repeated inside every client number's subquery.
        sql.add(
            "AND d.id NOT IN (SELECT r.document_id FROM document_read_mark r WHERE r.user_id = {})",
            user_id,
        )


def _after(keys: list[str], directions: list[bool], values: list[Any]) -> tuple[str, list[Any]]:
    """Lexicographic "comes after the cursor" for keys of any directions."""
    key, descending, value = keys[0], directions[0], values[0]
    beyond = "<" if descending else ">"
    if len(keys) == 1:
        return f"{key} {beyond} {{}}", [value]
    rest, rest_params = _after(keys[1:], directions[1:], values[1:])
    return f"({key} {beyond} {{}} OR ({key} = {{}} AND {rest}))", [value, value, *rest_params]


def decode_cursor_values(sort: Sort, raw: list[Any]) -> list[Any]:
    keys = SORT_KEYS[sort.column]
    if len(raw) != len(keys) + 1:
        raise ValueError("cursor does not fit the sort")
    return [key.parse(value) for key, value in zip(keys, raw[:-1], strict=False)] + [int(raw[-1])]


def _scope_sql(sql: Sql, scope: Scope, filters: Filters) -> None:
    ids, codes, since = scope.ids, scope.codes, scope.since
    if filters.client_number_ids is not None:
        keep = [i for i, number_id in enumerate(ids) if number_id in filters.client_number_ids]
        ids = tuple(ids[i] for i in keep)
        codes = tuple(codes[i] for i in keep)
        since = tuple(since[i] for i in keep)
    sql.add(
        "FROM unnest({}::int[], {}::text[], {}::date[]) AS cn(id, code, since)",
        list(ids),
        list(codes),
        list(since),
    )


def _order(names: list[str], directions: list[bool]) -> str:
    return ", ".join(
        f"{name} {'DESC' if descending else 'ASC'}"
        for name, descending in zip(names, directions, strict=True)
    )


def page_query(
    scope: Scope, filters: Filters, sort: Sort, after: list[Any] | None, limit: int, user_id: int
) -> Sql:
    """Ids and sort keys of the next `limit + 1` documents (one more tells if there is
    a next page), then their rows with the client code and this user's read mark."""
    keys = SORT_KEYS[sort.column]
    directions = sort.directions()
    # Within one client number, its code is constant: order by the other keys.
    inner = [(k.sql, d) for k, d in zip(keys, directions, strict=False) if not k.per_number]
    order_inner = _order([n for n, _ in inner] + ["d.id"], [d for _, d in inner] + [directions[-1]])
    outer_names = [f"k{i}" for i in range(len(keys))] + ["id"]
    selected = ", ".join(f"{k.sql} AS k{i}" for i, k in enumerate(keys))
    # Sorted by another column, the window is a filter, not the index's range; written
    # as `IS TRUE` the planner stops assuming it drops two rows in three.
    window = (
        "d.issue_date >= cn.since"
        if sort.column == "issue_date"
        else ("(d.issue_date >= cn.since) IS TRUE")
    )

    def per_number(sql: Sql, selected: str, bound: str, taken: int) -> None:
        """One client number's next rows in list order, after the cursor."""
        _scope_sql(sql, scope, filters)
        sql.add(
            f"CROSS JOIN LATERAL (SELECT d.id, {selected} FROM document d "
            f"WHERE d.client_number_id = cn.id AND {window} {bound}"
        )
        _filters(sql, filters, user_id)
        if after is not None:
            condition, params = _after([k.sql for k in keys] + ["d.id"], directions, after)
            sql.add(f"AND {condition}", *params)
        sql.add(f"ORDER BY {order_inner} LIMIT {{}}) x", taken)

    sql = Sql()
    bounded = BOUNDS.get(sort.column)
    if bounded is not None:
        # First pass: each number's first key; the (limit+1)-th best of those bounds
        # every number's read to an index range (no row beyond it can make the page).
        first, last = bounded
        sentinel, compare = (first, ">=") if sort.descending else (last, "<=")
        sql.add("WITH firsts AS (SELECT x.k0 ")
        per_number(sql, f"{keys[0].sql} AS k0", "", 1)
        sql.add(
            "), bound AS (SELECT k0 FROM firsts ORDER BY "
            f"{_order(['k0'], [sort.descending])} OFFSET {{}} LIMIT 1), ",
            limit,
        )
        bound = f"AND {keys[0].sql} {compare} coalesce((SELECT k0 FROM bound), {sentinel})"
        sql.add("page AS (SELECT x.* ")
    else:
        bound = ""
        sql.add("WITH page AS (SELECT x.* ")
    per_number(sql, selected, bound, limit + 1)
    sql.add(f"ORDER BY {_order(outer_names, directions)} LIMIT {{}})", limit + 1)
    sql.add(
        "SELECT d.id, c.client_code, d.type, d.type_code, d.number, d.issue_date, d.due_date, "
        "d.currency, d.amount_excl_vat, d.vat_amount, d.amount_incl_vat, d.structured_kind, "
        "d.pdf_blob_hash IS NOT NULL AS has_pdf, r.id IS NOT NULL AS read, "
        + ", ".join(f"page.k{i}" for i in range(len(keys)))
        + " FROM page JOIN document d ON d.id = page.id "
        "JOIN client_number c ON c.id = d.client_number_id "
        "LEFT JOIN document_read_mark r ON r.user_id = {} AND r.document_id = d.id",
        user_id,
    )
    sql.add(f"ORDER BY {_order([f'page.{name}' for name in outer_names], directions)}")
    return sql


def count_query(scope: Scope, filters: Filters, user_id: int, cap: int = COUNT_CAP) -> Sql:
    """How many documents match, counting no further than `cap + 1`."""
    sql = Sql().add("SELECT count(*) AS n FROM (SELECT 1 ")
    _scope_sql(sql, scope, filters)
    sql.add(
        "CROSS JOIN LATERAL (SELECT 1 FROM document d "
        "WHERE d.client_number_id = cn.id AND d.issue_date >= cn.since"
    )
    _filters(sql, filters, user_id)
    sql.add("LIMIT {}) x LIMIT {}) counted", cap + 1, cap + 1)
    return sql


def totals_query(scope: Scope, filters: Filters, user_id: int) -> Sql:
    """Sum including VAT per currency, credit notes counted negatively."""
    sql = Sql().add(
        "SELECT d.currency, count(*) AS n, sum(CASE WHEN d.type = 'credit_note' "
        "THEN -d.amount_incl_vat ELSE d.amount_incl_vat END) AS total "
    )
    _scope_sql(sql, scope, filters)
    sql.add("JOIN document d ON d.client_number_id = cn.id AND d.issue_date >= cn.since")
    sql.add("WHERE TRUE")
    _filters(sql, filters, user_id)
    sql.add("GROUP BY d.currency ORDER BY d.currency")
    return sql


def export_query(scope: Scope, filters: Filters, sort: Sort, user_id: int) -> Sql:
    """Every matching document in the list's order, for the CSV and ZIP exports."""
    keys = SORT_KEYS[sort.column]
    order = _order([k.sql for k in keys] + ["d.id"], sort.directions())
    sql = Sql().add(
        "SELECT d.id, cn.code AS client_code, d.type, d.type_code, d.number, d.issue_date, "
        "d.due_date, d.currency, d.amount_excl_vat, d.vat_amount, d.amount_incl_vat, "
        "d.pdf_blob_hash, d.xml_blob_hash, d.structured_kind "
    )
    _scope_sql(sql, scope, filters)
    sql.add("JOIN document d ON d.client_number_id = cn.id AND d.issue_date >= cn.since")
    sql.add("WHERE TRUE")
    _filters(sql, filters, user_id)
    sql.add(f"ORDER BY {order}")
    return sql
