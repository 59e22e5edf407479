"""The document list against a plain Python model of its rules, on generated data:
every combination of filters and sorts returns exactly the expected documents, in the
expected order, across pages, with no repeats and no gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iportal.documents import reading
from iportal.documents.reading import PORTAL_START, Filters, Sort, window_start
from tests import factories

TODAY = date(2026, 11, 23)


@dataclass
class Doc:
    id: int
    client_code: str
    client_number_id: int
    type: str
    number: str
    issue_date: date
    due_date: date | None
    amount_incl_vat: Decimal
    read: bool


DOCS = st.lists(
    st.tuples(
        st.integers(0, 2),  # which client number
        st.sampled_from(["invoice", "credit_note"]),
        st.sampled_from(["F2024-", "F2025-", "C-", "X", "f2024-", "inv-"]),
        st.integers(0, 9 * 365),  # days before today
        st.one_of(st.none(), st.integers(0, 60)),  # due after issue
        st.integers(-500, 5000),  # amount in euros (negative: corrective invoices)
        st.booleans(),  # read
    ),
    min_size=3,
    max_size=40,
)
SORTS = st.sampled_from(
    [
        "issue_date",
        "-issue_date",
        "amount_incl_vat",
        "-amount_incl_vat",
        "number",
        "-number",
        "due_date",
        "-due_date",
        "type",
        "-type",
        "client_code",
        "-client_code",
    ]
)
FILTER_VALUES = {
    "type": st.sampled_from(["invoice", "credit_note"]),
    # Numbers match whatever their case, by their spellings or by upper() (INV*).
    "number": st.sampled_from(["F2024-1", "C-3", "F2024*", "F*", "C*", "f2024*", "c-3", "INV*"]),
    "issued_from": st.integers(0, 9 * 365),
    "issued_to": st.integers(0, 9 * 365),
    "amount_min": st.integers(-600, 5000),
    "amount_max": st.integers(-600, 5000),
    "unread": st.just(True),
    "client": st.integers(0, 2),
}


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    """Most often none, one or two filters together; sometimes more."""
    names = draw(st.lists(st.sampled_from(sorted(FILTER_VALUES)), max_size=4, unique=True))
    return {name: draw(FILTER_VALUES[name]) for name in names}


FILTERS = filters()


def sort_key(doc: Doc, sort: str) -> tuple[Any, ...]:
    column = sort.lstrip("-")
    if column == "due_date":
        return (doc.due_date or doc.issue_date,)
    if column == "type":
        return (doc.type, doc.issue_date)
    if column == "client_code":
        return (doc.client_code,)
    return (getattr(doc, column),)


def model(
    docs: list[Doc], since: dict[int, date], query: dict[str, Any], sort: str, codes: list[str]
) -> list[int]:
    def keep(d: Doc) -> bool:
        number = query.get("number")
        return all(
            (
                d.issue_date >= since[d.client_number_id],
                query.get("type") in (None, d.type),
                number is None
                or (
                    d.number.upper().startswith(number[:-1].upper())
                    if number.endswith("*")
                    else d.number.upper() == number.upper()
                ),
                "issued_from" not in query
                or d.issue_date >= TODAY - timedelta(query["issued_from"]),
                "issued_to" not in query or d.issue_date <= TODAY - timedelta(query["issued_to"]),
                "amount_min" not in query or d.amount_incl_vat >= query["amount_min"],
                "amount_max" not in query or d.amount_incl_vat <= query["amount_max"],
                not query.get("unread") or not d.read,
                "client" not in query or d.client_code == codes[query["client"]],
            )
        )

    chosen = [d for d in docs if keep(d)]
    descending = sort.startswith("-")
    if sort.lstrip("-") == "client_code":
        # Client codes either way; within one, the newest first.
        chosen.sort(key=lambda d: (d.issue_date, d.id), reverse=True)
        chosen.sort(key=lambda d: d.client_code, reverse=descending)
    else:
        chosen.sort(key=lambda d: (*sort_key(d, sort), d.id), reverse=descending)
    return [d.id for d in chosen]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=DOCS, query=FILTERS, sort=SORTS, limit=st.integers(1, 7))
async def test_every_filter_and_sort_matches_the_model_across_pages(
    transaction: Any, rows: list[tuple[Any, ...]], query: dict[str, Any], sort: str, limit: int
) -> None:
    savepoint = await transaction.savepoint()
    try:
        await _check(rows, query, sort, limit)
    finally:
        await savepoint.rollback_to()


async def _check(rows: list[tuple[Any, ...]], query: dict[str, Any], sort: str, limit: int) -> None:
    issuer_id = await factories.issuer()
    starts = [date(2015, 1, 1), TODAY - timedelta(days=3 * 365), date(2000, 1, 1)]
    numbers = [await factories.client_number(issuer_id, contract_start=start) for start in starts]
    from iportal.accounts.tables import ClientNumber

    codes = [
        (await ClientNumber.select(ClientNumber.client_code).where(ClientNumber.id == n).first())[
            "client_code"
        ]
        for n in numbers
    ]
    user_id = await factories.user()
    await factories.account(user_id, numbers[0], numbers[1])
    other = await factories.user()
    account_id = await factories.account(other, numbers[2])
    await factories.shared_user(account_id, user_id, numbers[2])
    docs = []
    for i, (which, kind, prefix, days, due, euros, read) in enumerate(rows):
        issued = TODAY - timedelta(days=days)
        amount = Decimal(abs(euros) if kind == "credit_note" else euros)
        document_id = await factories.document(
            numbers[which],
            type=kind,
            number=f"{prefix}{i}",
            issue_date=issued,
            due_date=issued + timedelta(days=due) if due is not None else None,
            amount_excl_vat=amount,
            vat_amount=Decimal("0.00"),
            type_code="384" if amount < 0 else None,
        )
        docs.append(
            Doc(
                document_id,
                codes[which],
                numbers[which],
                kind,
                f"{prefix}{i}",
                issued,
                issued + timedelta(days=due) if due is not None else None,
                amount,
                read,
            )
        )
    reader = reading.reader_for(user_id, today=TODAY)
    await reading.mark_read(reader, [d.id for d in docs if d.read])
    oldest = max(window_start(TODAY), PORTAL_START)
    since = {n: max(s, oldest) for n, s in zip(numbers, starts, strict=True)}
    expected = model(docs, since, query, sort, codes)

    raw = {k: v for k, v in query.items() if k != "client"}
    for name in ("issued_from", "issued_to"):
        if name in raw:
            raw[name] = (TODAY - timedelta(raw[name])).isoformat()
    for name in ("amount_min", "amount_max"):
        if name in raw:
            raw[name] = str(raw[name])
    if "unread" in raw:
        raw["unread"] = "1"
    if "client" in query:
        raw["client_code"] = codes[query["client"]]
    filters = await reading.parse_filters(reader, raw)
    assert isinstance(filters, Filters)
    seen: list[int] = []
    cursor = None
    for _ in range(len(docs) + 2):
        page = await reading.list_documents(reader, filters, Sort.parse(sort), cursor, limit)
        assert len(page.items) <= limit
        seen += [item.id for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    summary = await reading.overview(reader, filters)
    assert summary.count == len(expected)
    total = sum(
        (-d.amount_incl_vat if d.type == "credit_note" else d.amount_incl_vat)
        for d in docs
        if d.id in set(expected)
    )
    assert sum((t.total for t in summary.totals), Decimal(0)) == total
