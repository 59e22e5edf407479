"""The documents list as a Belgian uses it: amounts typed in the page's language, a
mistake that shows the page again with everything typed and the reason beside its
field (the API answers 422 naming it), numbers found whatever their case, a company
column for a person who sees several companies, sorted by keyset pages, and lists that
say what to do when they are empty."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from iportal import clock
from iportal.accounts.tables import PortalUser
from tests import factories
from tests.helpers import listed_ids as ids
from tests.helpers import log_in_afresh as login


@pytest.fixture
async def world(transaction: Any) -> dict[str, Any]:
    """Luc (Dutch), accountant of Peeters BV and of Dubois SRL; Eva, a new client with
    nothing published yet."""
    issuer_id = await factories.issuer("DL2")
    peeters = await factories.client_number(issuer_id, "DL20000001", company_name="Peeters BV")
    dubois = await factories.client_number(issuer_id, "DL20000003", company_name="Dubois SRL")
    empty = await factories.client_number(issuer_id, "DL20000007", company_name="Eva's Shop")
    anna = await factories.user("anna@example.test")
    marie = await factories.user("marie@example.test")
    luc = await factories.user("luc@example.test", language="nl")
    eva = await factories.user("eva@example.test")
    await factories.shared_user(await factories.account(anna, peeters), luc, peeters)
    await factories.shared_user(await factories.account(marie, dubois), luc, dubois)
    await factories.account(eva, empty)
    day = clock.today() - timedelta(days=10)
    docs = {}
    for key, number, doc_number, incl in (
        ("small", peeters, "F2026110001", "999.99"),
        ("thousand", peeters, "F2026110002", "1000.50"),
        ("big", dubois, "F2026120003", "12500.00"),
        ("credit", dubois, "c2026-7", "-12.00"),
    ):
        docs[key] = await factories.document(
            number,
            number=doc_number,
            issue_date=day,
            amount_excl_vat=Decimal(incl),
            vat_amount=Decimal(0),
        )
    return docs


def listed(page: str) -> set[str]:
    return set(re.findall(r'<span id="n\d+">([^<]+)</span>', page))


@pytest.mark.parametrize(
    "typed", ["1.000,50", "1 000,50", "1\u202f000,50", "1\u00a0000,50", "1000.50", "1000,5"]
)
async def test_amounts_typed_the_belgian_way_filter_the_page_and_the_api(
    client: httpx.AsyncClient, world: dict[str, Any], typed: str
) -> None:
    await login(client, "luc@example.test")  # Luc reads the portal in Dutch
    page = await client.get("/documents", params={"amount_min": typed})
    assert page.status_code == 200
    assert listed(page.text) == {"F2026110002", "F2026120003"}
    assert f'value="{typed}"' in page.text  # kept as typed
    assert await ids(client, amount_min=typed) == {world["thousand"], world["big"]}
    assert await ids(client, amount_max=typed) == {
        world["small"],
        world["thousand"],
        world["credit"],
    }


async def test_a_thousand_written_with_a_dot_depends_on_the_language(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    assert await ids(client, amount_min="1.000") == {world["thousand"], world["big"]}
    assert await ids(client, amount_max="-12,00") == {world["credit"]}
    await PortalUser.update({PortalUser.language: "en"}).where(
        PortalUser.email == "luc@example.test"
    )
    await login(client, "luc@example.test")
    # In English 1.000 is one, and 1,000 a thousand.
    assert len(await ids(client, amount_min="1.000")) == 3
    assert await ids(client, amount_min="1,000") == {world["thousand"], world["big"]}


async def test_a_mistake_shows_the_page_again_with_every_filter_kept(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    typed = {
        "amount_min": "1.000,50",
        "amount_max": "veel",
        "issued_from": "gisteren",
        "number": "f2026*",
        "type": "invoice",
        "company": "Peeters BV",
        "unread": "1",
        "sort": "-amount_incl_vat",
    }
    response = await client.get("/documents", params=typed)
    assert response.status_code == 422
    page = response.text
    assert "<h1>" in page and 'id="filters"' in page  # the whole page, not an error page
    # Everything typed is still in the form, the good and the bad.
    for name, value in (
        ("amount_min", "1.000,50"),
        ("amount_max", "veel"),
        ("issued_from", "gisteren"),
        ("number", "f2026*"),
    ):
        assert re.search(rf'name="{name}" type="[a-z]+"[^>]* value="{re.escape(value)}"', page), (
            name
        )
    assert '<option value="invoice" selected>' in page
    assert '<option value="Peeters BV" selected>' in page
    assert 'name="unread" value="1" checked' in page
    assert '<input type="hidden" name="sort" value="-amount_incl_vat">' in page
    # Each reason beside its field, in Dutch, tied to it for a screen reader.
    maximum = re.search(r'<input id="f-max"[^>]*>', page)
    assert maximum is not None
    assert 'aria-invalid="true"' in maximum[0]
    assert 'aria-describedby="f-amount-help f-max-error"' in maximum[0]
    assert '<p class="error field-error" id="f-max-error">“veel” is geen bedrag.' in page
    assert "1.234,56" in page  # the example in the reader's convention
    start = re.search(r'<input id="f-from"[^>]*>', page)
    assert start is not None and 'aria-invalid="true"' in start[0]
    assert 'type="text"' in start[0]  # a date field shows what was typed
    assert 'id="f-from-error">“gisteren” is geen datum.' in page
    minimum = re.search(r'<input id="f-min"[^>]*>', page)
    assert minimum is not None and "aria-invalid" not in minimum[0]
    assert "Error 422" not in page and 'role="alert"' in page


async def test_the_api_answers_422_naming_the_field(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    for params, field in (
        ({"amount_min": "veel"}, "amount_min"),
        ({"amount_max": "1.00.0"}, "amount_max"),
        ({"issued_to": "morgen"}, "issued_to"),
        ({"type": "bon"}, "bon"),
    ):
        for path in ("/api/v1/documents", "/api/v1/documents/summary"):
            response = await client.get(path, params=params)
            assert response.status_code == 422, (path, params)
            assert field in response.json()["detail"], response.json()


async def test_a_client_code_not_seen_shows_the_page_again_with_the_reason(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    response = await client.get("/documents", params={"client_code": "DL20000007"})
    assert response.status_code == 404  # as for a code that does not exist
    assert 'id="filters"' in response.text
    assert 'id="f-client-error">' in response.text and "Eva" not in response.text
    api = await client.get("/api/v1/documents", params={"client_code": "DL20000007"})
    assert api.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"number_prefix": "f202611*"},
        {"number_prefix": "f202611"},
        {"number": "f202611*"},
        {"number": "F202611*"},
    ],
)
async def test_document_numbers_match_whatever_their_case(
    client: httpx.AsyncClient, world: dict[str, Any], params: dict[str, str]
) -> None:
    await login(client, "luc@example.test")
    assert await ids(client, **params) == {world["small"], world["thousand"]}


async def test_an_exact_number_matches_whatever_its_case_and_like_signs_are_letters(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    assert await ids(client, number="f2026110001") == {world["small"]}
    assert await ids(client, number="C2026-7") == {world["credit"]}
    assert await ids(client, number="f2026_1*") == set()  # `_` is no wildcard
    assert await ids(client, number="%*") == set()
    page = (await client.get("/documents", params={"number": "f2026*"})).text
    assert listed(page) == {"F2026110001", "F2026110002", "F2026120003"}


async def test_numbers_with_many_letters_or_beyond_ascii_match_whatever_their_case(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    from iportal.accounts.tables import ClientNumber

    number = (
        await ClientNumber.select(ClientNumber.id)
        .where(ClientNumber.client_code == "DL20000001")
        .first()
    )["id"]
    many = await factories.document(number, number="INV-abc-1", issue_date=clock.today())
    accented = await factories.document(number, number="É-2026-5", issue_date=clock.today())
    await login(client, "luc@example.test")
    assert await ids(client, number="inv-ABC*") == {many}  # compared by upper()
    assert await ids(client, number="Inv-Abc-1") == {many}
    assert await ids(client, number="é-2026*") == {accented}
    assert await ids(client, number="é-2026-5") == {accented}


def test_a_few_letters_are_compared_as_their_spellings() -> None:
    from iportal.documents.reading.listing import case_variants

    assert case_variants("f2024-1") == ["F2024-1", "f2024-1"]
    assert case_variants("fa-1") == ["FA-1", "Fa-1", "fA-1", "fa-1"]
    assert case_variants("2024") == ["2024"]
    assert case_variants("INV1") is None  # eight spellings: upper() instead
    assert case_variants("é1") is None


async def test_the_company_column_sorts_and_pages_by_keyset(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "luc@example.test")
    page = (await client.get("/documents", params={"sort": "company"})).text
    assert re.search(r'aria-sort="ascending"\s*>\s*<a href="/documents\?sort=-company">', page)
    assert page.index(" Dubois SRL</td>") < page.index(" Peeters BV</td>")
    for sort, first in (("company", "Dubois SRL"), ("-company", "Peeters BV")):
        seen: list[int] = []
        cursor = None
        while True:
            params = {"sort": sort, "limit": "1", **({"cursor": cursor} if cursor else {})}
            answer = (await client.get("/api/v1/documents", params=params)).json()
            seen += [item["id"] for item in answer["items"]]
            cursor = answer["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 4
        companies = {
            world["small"]: "Peeters BV",
            world["thousand"]: "Peeters BV",
            world["big"]: "Dubois SRL",
            world["credit"]: "Dubois SRL",
        }
        assert [companies[i] for i in seen][:2] == [first, first]
    # The drop-down of client numbers names each one's company, whole.
    assert "DL20000001 — Peeters BV</option>" in page


async def test_empty_lists_say_what_to_do_next(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "eva@example.test")
    page = (await client.get("/documents")).text
    assert "No documents yet: they appear here when your issuer publishes them." in page
    assert "export.csv" not in page
    await login(client, "luc@example.test")
    page = (await client.get("/documents", params={"number": "NOPE*"})).text
    assert "Er zijn geen documenten die aan deze filters voldoen." in page
    assert re.search(r'<p class="empty">[^<]*<a href="/documents">', page)
