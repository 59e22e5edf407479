"""One login for many companies: an accountant granted numbers by two accounts sees
both companies' documents, each number with its company beside it, and filters by
company (the page's drop-down and the API's `company=`); a company they do not see
gives an empty list, like one that does not exist."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal import clock
from tests import factories
from tests.helpers import listed_ids as ids
from tests.helpers import log_in_afresh as login


@pytest.fixture
async def world(transaction: Any) -> dict[str, int]:
    """Luc, shared user of Peeters BV (one of its two numbers) and of Dubois SRL; Bert's
    Bakery is a company Luc does not see."""
    issuer_id = await factories.issuer("DL2")
    peeters = await factories.client_number(issuer_id, "DL20000001", company_name="Peeters BV")
    peeters_other = await factories.client_number(
        issuer_id, "DL20000002", company_name="Peeters BV"
    )
    dubois = await factories.client_number(issuer_id, "DL20000003", company_name="Dubois SRL")
    bakery = await factories.client_number(issuer_id, "DL20000009", company_name="Bert's Bakery")
    anna = await factories.user("anna@example.test")
    marie = await factories.user("marie@example.test")
    luc = await factories.user("luc@example.test")
    bert = await factories.user("bert@example.test")
    anna_account = await factories.account(anna, peeters, peeters_other)
    marie_account = await factories.account(marie, dubois)
    await factories.account(bert, bakery)
    await factories.shared_user(anna_account, luc, peeters)
    await factories.shared_user(marie_account, luc, dubois)
    issued = clock.today() - timedelta(days=10)
    docs = {}
    for key, number in (
        ("peeters", peeters),
        ("peeters_other", peeters_other),
        ("dubois", dubois),
        ("bakery", bakery),
    ):
        docs[key] = await factories.document(number, number=f"F-{key}", issue_date=issued)
    return docs


async def test_the_api_filters_by_company_name_and_leaks_nothing(
    client: httpx.AsyncClient, world: dict[str, int]
) -> None:
    await login(client, "luc@example.test")
    assert await ids(client) == {world["peeters"], world["dubois"]}
    assert await ids(client, company="Peeters BV") == {world["peeters"]}
    assert await ids(client, company=" Dubois SRL ") == {world["dubois"]}
    # A company that exists but is not Luc's answers like one that does not exist.
    assert await ids(client, company="Bert's Bakery") == set()
    assert await ids(client, company="Nobody NV") == set()
    assert await ids(client, company="peeters bv") == set()  # the exact name
    # With another filter, and in the count and the export.
    assert await ids(client, company="Peeters BV", client_code="DL20000003") == set()
    summary = await client.get("/api/v1/documents/summary", params={"company": "Dubois SRL"})
    assert summary.json()["count"] == 1
    export = await client.get("/api/v1/documents/export.csv", params={"company": "Dubois SRL"})
    assert "F-dubois" in export.text and "F-peeters" not in export.text
    # Anna, main contact of Peeters BV, sees both of its numbers under its name.
    await login(client, "anna@example.test")
    assert await ids(client, company="Peeters BV") == {world["peeters"], world["peeters_other"]}
    assert await ids(client, company="Dubois SRL") == set()


async def test_the_page_shows_the_companies_and_filters_by_one(
    client: httpx.AsyncClient, world: dict[str, int]
) -> None:
    await login(client, "luc@example.test")
    page = (await client.get("/documents")).text
    select = page.split('id="f-company"')[1].split("</select>")[0]
    assert '<option value="Dubois SRL">Dubois SRL</option>' in select
    assert '<option value="Peeters BV">Peeters BV</option>' in select
    assert "Bakery" not in select
    # A company column beside the client number, sortable.
    assert (
        '<td><span class="label">Client number</span> DL20000001</td>'
        '<td class="company"><span class="label">Company</span> Peeters BV</td>'
    ) in page
    assert (
        '<td><span class="label">Client number</span> DL20000003</td>'
        '<td class="company"><span class="label">Company</span> Dubois SRL</td>'
    ) in page
    assert 'href="/documents?sort=company"' in page
    chosen = (await client.get("/documents", params={"company": "Dubois SRL"})).text
    assert '<option value="Dubois SRL" selected>' in chosen
    assert "F-dubois" in chosen and "F-peeters" not in chosen
    # Filters carried by the mark-read form and the export links.
    assert 'name="company" value="Dubois SRL"' in chosen
    assert "export.csv?company=Dubois+SRL" in chosen
    hidden = (await client.get("/documents", params={"company": "Bert's Bakery"})).text
    assert "No documents match these filters." in hidden and "F-bakery" not in hidden


async def test_one_company_needs_no_company_filter_nor_names(
    client: httpx.AsyncClient, world: dict[str, int]
) -> None:
    await login(client, "anna@example.test")
    page = (await client.get("/documents")).text
    assert 'id="f-company"' not in page
    assert 'class="company"' not in page
    assert "F-peeters_other" in page
