"""Audit events for a main contact: their accounts' events and their own, newest
first, keyset-paginated, filtered by kind, client number and person; nothing of other
accounts, and nothing for anyone who is main contact of no account (403)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from iportal import db
from iportal.accounts.services._audit import AuditFilters, page_query
from iportal.accounts.tables import AUDIT_KINDS
from tests import factories
from tests.accounts.security_support import logged_in, person

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# As `record_audit_event` writes it: an event on a number is the account's holding it.
EVENT_SQL = """
INSERT INTO audit_event (kind, at, actor_id, account_id, client_number_id, document_id, detail)
VALUES ($1, $2, $3, coalesce($4, (SELECT account_id FROM client_number WHERE id = $5)), $5, $6,
        $7::jsonb)
RETURNING id
"""


async def event(
    kind: str,
    minutes: int,
    *,
    actor: int | None = None,
    account: int | None = None,
    client_number: int | None = None,
    document_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """An event at a chosen moment."""
    at = T0 + timedelta(minutes=minutes)
    values = (actor, account, client_number, document_id, json.dumps(detail or {}))
    return int(await db.fetchval(EVENT_SQL, kind, at, *values))


async def two_accounts() -> dict[str, Any]:
    """Anna is main contact of DL20000101 and DL20000102 and shares the first with
    Luc, an accountant; Bert is main contact of DL20000201."""
    issuer_id = await factories.issuer("DL2")
    n1 = await factories.client_number(issuer_id, "DL20000101")
    n2 = await factories.client_number(issuer_id, "DL20000102")
    n3 = await factories.client_number(issuer_id, "DL20000201")
    anna, bert, luc = await person(), await person(), await person()
    account_a = await factories.account(anna["id"], n1, n2)
    account_b = await factories.account(bert["id"], n3)
    await factories.shared_user(account_a, luc["id"], n1)
    ids = {
        "anna_login": await event("login_succeeded", 1, actor=anna["id"]),
        "luc_login": await event("login_failed", 2, actor=luc["id"]),
        "opted_in": await event(
            "opted_in", 3, actor=anna["id"], account=account_a, client_number=n2
        ),
        "luc_opened": await event(
            "document_opened", 4, actor=luc["id"], client_number=n1, document_id=77
        ),
        "grant": await event(
            "grant_added", 5, actor=anna["id"], account=account_a, client_number=n1
        ),
        "bert_opted_out": await event(
            "opted_out", 6, actor=bert["id"], account=account_b, client_number=n3
        ),
        "bert_opened": await event("document_opened", 7, actor=bert["id"], client_number=n3),
        "password": await event(
            "password_changed", 0, actor=anna["id"], detail={"sessions_ended": 1}
        ),
    }
    return {"anna": anna, "bert": bert, "luc": luc, "ids": ids}


async def all_items(
    client: httpx.AsyncClient, query: str = "", limit: int = 50
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = await client.get(f"/api/v1/audit-events?limit={limit}{query}{cursor}")
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        if not body["next_cursor"]:
            return items
        cursor = f"&cursor={body['next_cursor']}"


async def test_a_main_contact_sees_their_accounts_and_themselves_newest_first(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    world = await two_accounts()
    await logged_in(client, world["anna"]["email"])
    items = await all_items(client)
    mine = [i for i in items if i["at"].startswith("2026-03-02")]
    assert [(i["kind"], i["client_code"]) for i in mine] == [
        ("grant_added", "DL20000101"),
        ("document_opened", "DL20000101"),  # Luc, as a shared user of Anna's number
        ("opted_in", "DL20000102"),
        ("login_succeeded", None),
        ("password_changed", None),
    ]
    opened = mine[1]
    assert opened["actor"] == world["luc"]["email"] and opened["document_id"] == 77
    assert mine[-1]["detail"] == {"sessions_ended": 1}
    assert set(mine[0]) == {"at", "kind", "actor", "client_code", "document_id", "detail"}
    assert items[0]["kind"] == "login_succeeded"  # this login, just now: the newest
    assert not [i for i in items if i["client_code"] == "DL20000201"]
    assert not [i for i in items if i["actor"] == world["bert"]["email"]]


async def test_pages_follow_each_other_without_gaps_or_repeats(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    world = await two_accounts()
    await logged_in(client, world["anna"]["email"])
    whole = await all_items(client)
    paged = await all_items(client, limit=2)
    assert paged == whole and len(whole) == 6
    first = (await client.get("/api/v1/audit-events?limit=2")).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    bad = await client.get("/api/v1/audit-events?cursor=not-ours")
    assert bad.status_code == 422
    assert (await client.get("/api/v1/audit-events?limit=0")).status_code == 422
    assert (await client.get("/api/v1/audit-events?limit=201")).status_code == 422


async def test_filters_by_kind_and_by_client_number_of_ones_own(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    world = await two_accounts()
    await logged_in(client, world["anna"]["email"])
    kinds = await all_items(client, "&kind=document_opened")
    assert [i["actor"] for i in kinds] == [world["luc"]["email"]]
    number = await all_items(client, "&client_code=dl2-0000101")
    assert [i["kind"] for i in number] == ["grant_added", "document_opened"]
    assert (await client.get("/api/v1/audit-events?kind=hacked")).status_code == 422
    for other in ("DL20000201", "DL29999999"):  # Bert's, and one that does not exist
        response = await client.get(f"/api/v1/audit-events?client_code={other}")
        assert response.status_code == 404
        assert response.json()["detail"] == (f"None of your accounts holds client number {other}.")
    assert (await client.get("/api/v1/audit-events?client_code=%24%24")).status_code == 422


async def test_another_main_contact_sees_nothing_of_the_first(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    world = await two_accounts()
    await logged_in(client, world["bert"]["email"])
    items = [i for i in await all_items(client) if i["at"].startswith("2026-03-02")]
    assert [i["kind"] for i in items] == ["document_opened", "opted_out"]
    assert (await client.get("/api/v1/audit-events?client_code=DL20000101")).status_code == 404


async def test_a_shared_user_reads_no_audit(client: httpx.AsyncClient, transaction: Any) -> None:
    world = await two_accounts()
    await logged_in(client, world["luc"]["email"])
    for path in ("/api/v1/audit-events", "/api/v1/audit-events?client_code=DL20000101"):
        response = await client.get(path)
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "Only the main contact of an account can read its activity."
        )
    page = await client.get("/me/activity")  # in everyone's settings: it says whose it is
    assert page.status_code == 200
    assert "Only the main contact of an account can read its activity." in page.text
    assert 'id="activity"' not in page.text


async def test_the_activity_page(client: httpx.AsyncClient, transaction: Any) -> None:
    world = await two_accounts()
    await logged_in(client, world["anna"]["email"])
    page = await client.get("/me/activity")
    assert page.status_code == 200
    assert "Document opened" in page.text and world["luc"]["email"] in page.text
    assert "DL20000201" not in page.text
    filtered = await client.get("/me/activity?kind=grant_added")
    assert "Access to a client number given" in filtered.text
    assert world["luc"]["email"] not in filtered.text
    client.cookies.clear()
    anonymous = await client.get("/me/activity")
    assert anonymous.status_code in (303, 401)


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


# Many events of many accounts, people and kinds, so that the planner picks by cost.
MANY_EVENTS_SQL = """
INSERT INTO audit_event (kind, at, account_id, actor_id, client_number_id)
SELECT ($1::text[])[1 + g % array_length($1, 1)], $2::timestamptz - g * interval '1 minute',
       ($3::int[])[1 + g % 40], ($4::int[])[1 + g % 37], ($5::int[])[1 + g % 10]
  FROM generate_series(1, 20000) AS g
"""


async def many_events() -> dict[str, list[int]]:
    issuer_id = await factories.issuer()
    numbers = [await factories.client_number(issuer_id) for _ in range(10)]
    accounts = [
        row["id"]
        for row in await db.fetch(
            "INSERT INTO account (kind, login) "
            "SELECT 'b2b', 'many-' || g FROM generate_series(1, 40) g RETURNING id"
        )
    ]
    users = [
        row["id"]
        for row in await db.fetch(
            "INSERT INTO portal_user (email) "
            "SELECT 'many-' || g || '@example.test' FROM generate_series(1, 37) g RETURNING id"
        )
    ]
    await db.execute(MANY_EVENTS_SQL, list(AUDIT_KINDS), T0, accounts, users, numbers)
    await db.execute("ANALYZE audit_event")
    return {"numbers": numbers, "accounts": accounts, "users": users}


@pytest.mark.parametrize(
    ("filters", "indexes"),
    [
        ({}, {"audit_event_account_at", "audit_event_actor_at"}),
        ({"kind": "document_opened"}, {"audit_event_account_kind", "audit_event_actor_kind"}),
        ({"client_number_id": 0}, {"audit_event_account_number"}),
        ({"actor_id": 1}, {"audit_event_account_actor"}),
        ({"actor_id": 0}, {"audit_event_account_actor", "audit_event_actor_at"}),
    ],
)
async def test_each_filter_reads_one_index_range_newest_first(
    transaction: Any, filters: dict[str, Any], indexes: set[str]
) -> None:
    """Each branch reads one range of the index made for its filter, in the list's
    order, and stops at the page. (Bitmap scans are turned off: on ranges as small as
    these the planner would rightly pick one, reading the same index range.)"""
    world = await many_events()
    reader, account = world["users"][0], world["accounts"][0]
    if "client_number_id" in filters:
        filters = {"client_number_id": world["numbers"][0]}
    if "actor_id" in filters:
        filters = {"actor_id": world["users"][filters["actor_id"]]}
    query = page_query(reader, [account], AuditFilters(**filters), (T0, 2**31 - 1), 50)
    await db.execute("SET LOCAL enable_bitmapscan = off")
    plan = json.loads(await db.fetchval(f"EXPLAIN (FORMAT JSON) {query.text}", *query.args))
    events = [n for n in _nodes(plan[0]["Plan"]) if n.get("Relation Name") == "audit_event"]
    assert {n["Index Name"] for n in events} == indexes
    assert all(n["Node Type"] == "Index Scan" and "Index Cond" in n for n in events)
    await db.execute("RESET enable_bitmapscan")
    rows = await db.fetch(query.text, *query.args)
    assert rows and rows == sorted(rows, key=lambda r: (r["at"], r["id"]), reverse=True)
