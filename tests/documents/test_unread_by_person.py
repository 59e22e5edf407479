"""Unread means unread by a person: accounting software fetching a PDF with the
person's API token leaves the document bold in their list (the audit records the
opening as the token's); the person opening it in their browser marks it read."""

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
from tests.helpers import form_login


@pytest.fixture
async def world(transaction: Any, settings: Any) -> dict[str, Any]:
    store = FolderBlobStore(settings.blob_dir)
    issuer_id = await factories.issuer("DL2")
    number = await factories.client_number(issuer_id, "DL20000001")
    anna = await factories.user("anna@example.test")
    await factories.account(anna, number)
    pdf = await store.put(factories.invoice_pdf("F-1"))
    doc = await factories.document(
        number, number="F-1", issue_date=clock.today() - timedelta(days=3), pdf_blob_hash=pdf
    )
    return {"anna": anna, "doc": doc}


async def read_mark(client: httpx.AsyncClient, doc: int, auth: dict[str, str]) -> bool:
    item = (await client.get(f"/api/v1/documents/{doc}", headers=auth)).json()
    read: bool = item["read"]
    return read


async def test_a_token_opening_leaves_it_unread_and_a_person_marks_it_read(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    doc = world["doc"]
    token = await create_personal_token(world["anna"], "Octopus")
    bearer = {"Authorization": f"Bearer {token.token}"}
    for _ in range(2):
        response = await client.get(f"/api/v1/documents/{doc}/pdf", headers=bearer)
        assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert await read_mark(client, doc, bearer) is False
    unread = (await client.get("/api/v1/documents?unread=true", headers=bearer)).json()
    assert [item["id"] for item in unread["items"]] == [doc]
    # Still bold on the person's page.
    assert (await form_login(client, "anna@example.test", factories.PASSWORD)).status_code == 303
    assert '<tr class="unread">' in (await client.get("/documents")).text
    # The audit has both openings, as the token's.
    rows = await db.fetch(
        "SELECT detail FROM audit_event WHERE kind = 'document_opened' ORDER BY id"
    )
    assert [json.loads(row["detail"]) for row in rows] == [
        {"file": "pdf", "via": "token", "token_id": token.id, "token_name": "Octopus"}
    ] * 2
    # The person opens it in the browser: read from now on, for the token too.
    assert (await client.get(f"/api/v1/documents/{doc}/pdf")).status_code == 200
    assert await read_mark(client, doc, {}) is True
    assert '<tr class="read">' in (await client.get("/documents")).text
    client.cookies.clear()
    assert await read_mark(client, doc, bearer) is True


async def test_a_token_cannot_open_what_the_person_cannot_see(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    other = await factories.user("bert@example.test")
    token = await create_personal_token(other, "Yuki")
    bearer = {"Authorization": f"Bearer {token.token}"}
    response = await client.get(f"/api/v1/documents/{world['doc']}/pdf", headers=bearer)
    assert response.status_code == 404
    assert await db.fetch("SELECT 1 FROM audit_event WHERE kind = 'document_opened'") == []
