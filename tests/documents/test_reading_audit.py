"""What reading leaves in the audit: every opening of a PDF or XML (not only the
first), every duplicate and every export (its filters and count), through a session or
a personal token; and each main contact reads only what happened on their own numbers,
even of an accountant who reads for two companies."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal import clock, db
from iportal.accounts.services import create_personal_token
from iportal.documents.storage import FolderBlobStore
from tests import factories
from tests.helpers import csrf_from, form_login

EVENTS_SQL = """
SELECT e.kind, e.actor_id, e.account_id, e.client_number_id, e.document_id, e.detail
  FROM audit_event e WHERE e.kind = ANY($1::text[]) ORDER BY e.id
"""


@pytest.fixture
async def world(transaction: Any, settings: Any) -> dict[str, Any]:
    """Anna is main contact of company A (DL20000001, DL20000002), Bert of company B
    (DL20000009); Luc, their accountant, is a shared user of DL20000001 and of
    DL20000009. Each number has an invoice with a PDF; A's first also a UBL XML."""
    store = FolderBlobStore(settings.blob_dir)
    issuer_id = await factories.issuer("DL2")
    a1 = await factories.client_number(issuer_id, "DL20000001")
    a2 = await factories.client_number(issuer_id, "DL20000002")
    b1 = await factories.client_number(issuer_id, "DL20000009")
    anna = await factories.user("anna@example.test")
    bert = await factories.user("bert@example.test")
    luc = await factories.user("luc@example.test")
    account_a = await factories.account(anna, a1, a2)
    account_b = await factories.account(bert, b1)
    await factories.shared_user(account_a, luc, a1)
    await factories.shared_user(account_b, luc, b1)
    day = clock.today() - timedelta(days=10)
    docs = {}
    for key, number, values in (
        ("a1", a1, {"structured_kind": "ubl", "xml_blob_hash": await store.put(b"<Invoice/>")}),
        ("a2", a2, {}),
        ("b1", b1, {}),
    ):
        pdf = await store.put(factories.invoice_pdf(f"F-{key}"))
        docs[key] = await factories.document(
            number, number=f"F-{key}", issue_date=day, pdf_blob_hash=pdf, **values
        )
    return {
        "docs": docs,
        "numbers": {"a1": a1, "a2": a2, "b1": b1},
        "accounts": {"a": account_a, "b": account_b},
        "users": {"anna": anna, "bert": bert, "luc": luc},
    }


async def login(client: httpx.AsyncClient, email: str) -> str:
    """Logged in through the form; returns the session's CSRF token."""
    client.cookies.clear()
    assert (await form_login(client, email, factories.PASSWORD)).status_code == 303
    return csrf_from((await client.get("/documents")).text)


async def events(*kinds: str) -> list[dict[str, Any]]:
    rows = await db.fetch(EVENTS_SQL, list(kinds))
    return [{**row, "detail": json.loads(row["detail"])} for row in rows]


async def audit(client: httpx.AsyncClient, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/audit-events?limit=200{query}")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_every_opening_is_recorded_with_how_the_reader_came(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    doc = world["docs"]["a1"]
    await login(client, "luc@example.test")
    for _ in range(2):
        assert (await client.get(f"/api/v1/documents/{doc}/pdf")).status_code == 200
    assert (await client.get(f"/api/v1/documents/{doc}/xml")).status_code == 200
    token = await create_personal_token(world["users"]["luc"], "Bookkeeping")
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {token.token}"}
    assert (await client.get(f"/api/v1/documents/{doc}/pdf", headers=bearer)).status_code == 200
    # Refused openings leave nothing: another company's number not shared, an unknown id.
    assert (await client.get(f"/api/v1/documents/{world['docs']['a2']}/pdf")).status_code == 401
    missing = await client.get("/api/v1/documents/987654/pdf", headers=bearer)
    not_shared = await client.get(f"/api/v1/documents/{world['docs']['a2']}/pdf", headers=bearer)
    assert missing.status_code == not_shared.status_code == 404
    opened = await events("document_opened")
    assert [e["detail"] for e in opened] == [
        {"file": "pdf", "via": "session"},
        {"file": "pdf", "via": "session"},
        {"file": "xml", "via": "session"},
        {"file": "pdf", "via": "token", "token_id": token.id, "token_name": "Bookkeeping"},
    ]
    luc, a1, account_a = world["users"]["luc"], world["numbers"]["a1"], world["accounts"]["a"]
    assert {(e["actor_id"], e["client_number_id"], e["account_id"], e["document_id"])
            for e in opened} == {(luc, a1, account_a, doc)}  # fmt: skip


async def test_a_duplicate_is_one_event(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    csrf = await login(client, "anna@example.test")
    doc = world["docs"]["a2"]
    response = await client.post(
        f"/api/v1/documents/{doc}/duplicate", headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 200
    recorded = await events("document_opened", "duplicate_requested")
    assert [(e["kind"], e["document_id"], e["detail"]) for e in recorded] == [
        ("duplicate_requested", doc, {"via": "session"})
    ]
    listed = (await client.get(f"/api/v1/documents/{doc}")).json()
    assert listed["read"] is True  # a duplicate is an opening: the document is read


# The CSV's convention is recorded too: the reader's language's (English here).
CSV = {"format": "csv", "csv_format": "excel-en"}


async def test_an_export_is_recorded_with_its_filters_and_count_per_account(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    everything = await client.get("/api/v1/documents/export.csv?sort=number")
    assert everything.status_code == 200
    one = await client.get("/api/v1/documents/export.zip?client_code=DL20000009&type=invoice")
    assert one.status_code == 200
    nothing = await client.get("/api/v1/documents/export.csv?number=NONE")
    assert nothing.status_code == 200
    recorded = await events("document_exported")
    a, b = world["accounts"]["a"], world["accounts"]["b"]
    a1, b1 = world["numbers"]["a1"], world["numbers"]["b1"]
    assert [(e["account_id"], e["client_number_id"], e["detail"]) for e in recorded] == [
        # One export of two companies' numbers: each company its own count.
        (a, a1, {**CSV, "filters": {"sort": "number"}, "via": "session", "count": 1}),
        (b, b1, {**CSV, "filters": {"sort": "number"}, "via": "session", "count": 1}),
        (
            b,
            b1,
            {
                "format": "zip",
                "filters": {"client_code": "DL20000009", "type": "invoice"},
                "via": "session",
                "count": 1,
            },
        ),
        (
            None,
            None,
            {**CSV, "filters": {"number": "NONE"}, "via": "session", "count": 0},
        ),
    ]


async def test_each_main_contact_sees_only_what_happened_on_their_own_numbers(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    """Luc reads for both companies: Anna sees his openings of A's documents only, Bert
    of B's only, and neither sees Luc's logins or the other's export counts."""
    await login(client, "luc@example.test")
    for key in ("a1", "b1", "b1"):
        await client.get(f"/api/v1/documents/{world['docs'][key]}/pdf")
    await client.get("/api/v1/documents/export.csv")
    await login(client, "anna@example.test")
    anna = await audit(client, "&actor=luc@example.test")
    assert [(i["kind"], i["client_code"], i["document_id"]) for i in anna] == [
        ("document_exported", "DL20000001", None),
        ("document_opened", "DL20000001", world["docs"]["a1"]),
    ]
    assert anna[0]["detail"]["count"] == 1
    everything = await audit(client)
    assert not [i for i in everything if i["client_code"] == "DL20000009"]
    assert not [i for i in everything if i["kind"] == "login_succeeded" and i["actor"] != (
        "anna@example.test")]  # fmt: skip
    await login(client, "bert@example.test")
    bert = await audit(client, "&actor=LUC@example.test&kind=document_opened")
    assert [(i["client_code"], i["document_id"]) for i in bert] == [
        ("DL20000009", world["docs"]["b1"]),
        ("DL20000009", world["docs"]["b1"]),
    ]
    assert (await client.get("/api/v1/audit-events?client_code=DL20000001")).status_code == 404
    # A person unknown to the portal answers like one who did nothing: no enumeration.
    assert await audit(client, "&actor=nobody@example.test") == []
    assert (await client.get("/api/v1/audit-events?actor=not-an-address")).status_code == 422


async def test_the_page_shows_openings_and_exports_in_every_language(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    await client.get(f"/api/v1/documents/{world['docs']['a1']}/pdf")
    await client.get("/api/v1/documents/export.csv")
    await login(client, "anna@example.test")
    expected = {
        "en": ("Document opened", "Documents exported", "Person"),
        "nl": ("Document geopend", "Documenten geëxporteerd", "Persoon"),
        "fr": ("Document ouvert", "Documents exportés", "Personne"),
        "de": ("Dokument geöffnet", "Dokumente exportiert", "Person"),
    }
    for language, words in expected.items():
        client.cookies.set("iportal_lang", language)  # as the language switch sets it
        page = await client.get("/me/activity")
        assert page.status_code == 200
        for word in words:
            assert word in page.text, (language, word)
        assert "luc@example.test" in page.text and "DL20000009" not in page.text
    client.cookies.set("iportal_lang", "en")
    filtered = await client.get("/me/activity?actor=luc@example.test&kind=document_exported")
    assert "Document opened</td>" not in filtered.text and "1 document (csv)" in filtered.text
