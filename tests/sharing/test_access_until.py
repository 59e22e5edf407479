"""Access for a time: a shared user's end date (`until`). Both sides see it (the
shared-users API, the shared user's client numbers), it ends access at that day's end
in Brussels by itself (no job), a date in the past is refused, and the shared user is
warned by e-mail a week before, exactly once per end date, in their language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from iportal.sharing.access_ends import warn_expiring_access
from iportal.sharing.shared_users import BRUSSELS
from tests import factories
from tests.accounts.opt_in_helpers import api_login
from tests.conftest import Mailbox
from tests.sharing.test_shared_users import API, anna_and_two_numbers, deliver, document_ids


def brussels_today() -> Any:
    return datetime.now(UTC).astimezone(BRUSSELS).date()


async def test_both_sides_see_the_end_date_it_can_be_moved_and_cleared_not_set_in_the_past(
    client: httpx.AsyncClient, transaction: Any, settings: Any
) -> None:
    world = await anna_and_two_numbers(settings)
    await factories.user("luc@accountants.example", first_name="Luc", language="fr")
    anna = await api_login(client, "anna@peeters.example")
    until = brussels_today() + timedelta(days=30)
    body = {
        "email": "luc@accountants.example",
        "language": "fr",
        "client_codes": ["SHA0000001"],
        "until": until.isoformat(),
    }
    past = await client.post(
        API,
        json={**body, "until": (brussels_today() - timedelta(days=1)).isoformat()},
        headers=anna,
    )
    assert past.status_code == 422 and "in the past" in past.json()["detail"]
    created = await client.post(API, json=body, headers=anna)
    assert created.status_code == 201, created.text
    luc_id = created.json()["id"]
    assert created.json()["until"] == until.isoformat()
    assert (await client.get(API)).json()["items"][0]["until"] == until.isoformat()

    # The main contact sees the end beside the shared user of each number.
    mine = (await client.get("/api/v1/client-numbers")).json()["items"]
    first = next(n for n in mine if n["client_code"] == "SHA0000001")
    assert [(s["email"], s["until"]) for s in first["shared_users"]] == [
        ("luc@accountants.example", until.isoformat())
    ]
    assert first["access_until"] is None  # her own number: no end

    # Untouched by a PATCH that leaves it out; moved; cleared with null.
    kept = await client.patch(
        f"{API}/{luc_id}", json={"client_codes": ["SHA0000001"]}, headers=anna
    )
    assert kept.json()["until"] == until.isoformat()
    later = until + timedelta(days=60)
    moved = await client.patch(f"{API}/{luc_id}", json={"until": later.isoformat()}, headers=anna)
    assert moved.status_code == 200 and moved.json()["until"] == later.isoformat()
    bad = await client.patch(f"{API}/{luc_id}", json={"until": "2001-01-01"}, headers=anna)
    assert bad.status_code == 422
    assert (await client.get(API)).json()["items"][0]["until"] == later.isoformat()

    # The shared user sees the date on their numbers, in the API and on the page.
    await api_login(client, "luc@accountants.example")
    [number] = (await client.get("/api/v1/client-numbers")).json()["items"]
    assert (number["client_code"], number["access_until"]) == ("SHA0000001", later.isoformat())
    page = await client.get("/client-numbers", headers={"Accept-Language": "fr"})
    assert "jusqu'au" in page.text or "jusqu&#39;au" in page.text

    anna = await api_login(client, "anna@peeters.example")
    cleared = await client.patch(f"{API}/{luc_id}", json={"until": None}, headers=anna)
    assert cleared.status_code == 200 and cleared.json()["until"] is None
    await api_login(client, "luc@accountants.example")
    [number] = (await client.get("/api/v1/client-numbers")).json()["items"]
    assert number["access_until"] is None
    assert await document_ids(client) == [world["docs"]["first"]]


async def test_access_ends_by_itself_when_the_last_day_is_over(
    client: httpx.AsyncClient, transaction: Any, settings: Any
) -> None:
    """The date passing between two requests, written into the row as time would make
    it: nothing runs, the next request sees nothing of the account."""
    world = await anna_and_two_numbers(settings)
    luc = await factories.user("luc@accountants.example")
    shared = await factories.shared_user(world["account"], luc, *world["numbers"])
    await factories.Grant.raw(
        "UPDATE shared_user SET access_until = {} WHERE id = {}", brussels_today(), shared
    )
    await api_login(client, "luc@accountants.example")
    docs = world["docs"]
    assert await document_ids(client) == sorted(docs.values())  # today is still theirs
    await factories.Grant.raw(
        "UPDATE shared_user SET access_until = {} WHERE id = {}",
        brussels_today() - timedelta(days=1),
        shared,
    )
    assert await document_ids(client) == []
    assert (await client.get(f"/api/v1/documents/{docs['first']}/pdf")).status_code == 404
    assert (await client.get(f"/api/v1/documents/{docs['first']}")).status_code == 404
    assert (await client.get("/api/v1/client-numbers")).json()["items"] == []
    summary = await client.get("/api/v1/documents/summary")
    assert summary.status_code == 200 and summary.json()["count"] == 0, summary.text
    export = await client.get("/api/v1/documents/export.csv")
    assert export.status_code == 200 and len(export.text.strip().splitlines()) == 1


async def test_the_shared_user_is_warned_a_week_before_once_per_end_date(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    await anna_and_two_numbers(settings)
    await factories.user("luc@accountants.example", first_name="Luc", language="de")
    anna = await api_login(client, "anna@peeters.example")
    until = brussels_today() + timedelta(days=20)
    body = {
        "email": "luc@accountants.example",
        "language": "de",
        "client_codes": ["SHA0000001", "SHA0000002"],
        "until": until.isoformat(),
    }
    created = await client.post(API, json=body, headers=anna)
    assert created.status_code == 201, created.text
    await deliver(settings)
    mailbox.messages.clear()  # the "shared with you" e-mail

    now = datetime.now(UTC)
    assert await warn_expiring_access(settings, now=now) == 0  # 20 days away
    assert await warn_expiring_access(settings, now=now + timedelta(days=12)) == 0
    assert await warn_expiring_access(settings, now=now + timedelta(days=14)) == 1
    assert await warn_expiring_access(settings, now=now + timedelta(days=15)) == 0  # once
    await deliver(settings)
    [warning] = mailbox.to("luc@accountants.example")
    assert warning["Subject"].startswith("Ihr Zugang zu den Rechnungen von Anna Peeters endet am")
    text = warning.get_body(("plain",)).get_content()
    assert "SHA0000001, SHA0000002" in text and str(until.year) in text

    # A new end date re-arms the warning; an end already past warns nobody.
    later = until + timedelta(days=30)
    moved = await client.patch(
        f"{API}/{created.json()['id']}", json={"until": later.isoformat()}, headers=anna
    )
    assert moved.status_code == 200
    assert await warn_expiring_access(settings, now=now + timedelta(days=15)) == 0
    assert await warn_expiring_access(settings, now=now + timedelta(days=44)) == 1
    assert await warn_expiring_access(settings, now=now + timedelta(days=60)) == 0
    await deliver(settings)
    assert len(mailbox.to("luc@accountants.example")) == 2
