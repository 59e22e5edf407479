"""Client numbers through the issuer API: created or updated in one go, every field
normalised and checked, aliases unique per issuer, nothing of another issuer touched."""

from __future__ import annotations

import string
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iportal import clock
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services import (
    ClientNumberInput,
    InvalidFields,
    resolve_client_number,
    upsert_client_number,
)
from iportal.accounts.tables import ClientNumber, ClientNumberAlias
from iportal.errors import Conflict, NotFound
from tests import factories

URL = "/api/v1/issuer/client-numbers/"
BODY: dict[str, Any] = {
    "company_name": "Brouwerij Peeters BV",
    "enterprise_number": "be 0417.000.129",
    "email": "Anna.Peeters@Example.BE",
    "first_name": "Anna",
    "last_name": "Peeters",
    "language": "nl",
    "contract_start": "2019-03-01",
    "aliases": ["0208:0417000129", " BE0417000129 "],
}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def stored(client_code: str) -> dict[str, Any] | None:
    return await ClientNumber.select().where(ClientNumber.client_code == client_code).first()


async def aliases_of(client_code: str) -> list[str]:
    rows = await ClientNumberAlias.select(ClientNumberAlias.reference).where(
        ClientNumberAlias.client_number.client_code == client_code
    )
    return sorted(row["reference"] for row in rows)


async def test_put_creates_then_updates(client: httpx.AsyncClient, transaction: Any) -> None:
    _, key = await factories.issuer_with_key("DL2")
    created = await client.put(f"{URL}DL20012345", json=BODY, headers=auth(key))
    assert created.status_code == 201, created.text
    assert created.json()["client_code"] == "DL20012345"
    assert created.json()["status"] == "created"
    row = await stored("DL20012345")
    assert row is not None
    assert row["enterprise_number"] == "BE0417000129"
    assert row["email"] == "anna.peeters@example.be"
    assert row["contract_start"] == date(2019, 3, 1)
    assert row["delivery_channel"] == "paper"
    assert await aliases_of("DL20012345") == ["0208:0417000129", "BE0417000129"]

    changed = {**BODY, "company_name": "Peeters Brewing BV", "aliases": ["PEETERS-01"]}
    updated = await client.put(f"{URL}DL20012345", json=changed, headers=auth(key))
    assert updated.status_code == 200, updated.text
    assert updated.json() == {**created.json(), "status": "updated"}
    row = await stored("DL20012345")
    assert row is not None and row["company_name"] == "Peeters Brewing BV"
    assert await aliases_of("DL20012345") == ["PEETERS-01"]  # the list is replaced
    assert await ClientNumber.count() == 1


async def test_without_aliases_the_stored_ones_stay_and_an_empty_list_clears_them(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    await client.put(f"{URL}DL20012345", json=BODY, headers=auth(key))
    without = {k: v for k, v in BODY.items() if k != "aliases"}
    assert (
        await client.put(f"{URL}DL20012345", json=without, headers=auth(key))
    ).status_code == 200
    assert len(await aliases_of("DL20012345")) == 2
    cleared = {**BODY, "aliases": []}
    assert (
        await client.put(f"{URL}DL20012345", json=cleared, headers=auth(key))
    ).status_code == 200
    assert await aliases_of("DL20012345") == []


async def test_the_client_code_is_normalised(client: httpx.AsyncClient, transaction: Any) -> None:
    _, key = await factories.issuer_with_key("DL2")
    response = await client.put(f"{URL}dl2-001 2345", json=BODY, headers=auth(key))
    assert response.status_code == 201, response.text
    assert response.json()["client_code"] == "DL20012345"
    again = await client.put(f"{URL}Dl2.0012345", json=BODY, headers=auth(key))
    assert again.status_code == 200 and again.json()["status"] == "updated"
    assert await stored("DL20012345") is not None


async def test_a_bad_enterprise_number_is_refused_naming_the_field(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    bad = {**BODY, "enterprise_number": "BE0417000128"}  # mod-97 check fails
    response = await client.put(f"{URL}DL20012345", json=bad, headers=auth(key))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("enterprise_number: ") and "BE0417000128" in detail
    assert await stored("DL20012345") is None


async def test_bad_email_language_and_dates_are_each_named(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    cases = {
        "email": ["anna@", "anna peeters@example.be", "anna@example", ""],
        "language": ["es", "", "english"],
        "contract_start": ["01/03/2019", "2019-02-30", tomorrow, "1899-12-31", ""],
        "company_name": ["", "x" * 201, "A\u0000B"],
        "first_name": ["   "],
        "aliases": [[""], ["x" * 201], ["REF\u0000"]],
    }
    for field, values in cases.items():
        for value in values:
            response = await client.put(
                f"{URL}DL20012345", json={**BODY, field: value}, headers=auth(key)
            )
            assert response.status_code == 422, (field, value)
            assert response.json()["detail"].startswith(f"{field}: "), response.json()
    assert await ClientNumber.count() == 0


async def test_every_bad_field_is_named_at_once(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    bad = {**BODY, "email": "nope", "language": "es", "contract_start": "tomorrow"}
    response = await client.put(f"{URL}DL20012345", json=bad, headers=auth(key))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [part.split(":")[0] for part in detail.split("; ")] == [
        "email",
        "language",
        "contract_start",
    ]


async def test_a_missing_field_or_a_bad_code_is_a_clear_4xx(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    missing = {k: v for k, v in BODY.items() if k != "email"}
    response = await client.put(f"{URL}DL20012345", json=missing, headers=auth(key))
    assert response.status_code == 400 and "email" in response.json()["detail"]
    for code in ("DL2", "DL2%E2%82%AC1", "D"):
        response = await client.put(f"{URL}{code}", json=BODY, headers=auth(key))
        assert response.status_code == 422, code
        assert response.json()["detail"].startswith("client_code: ")


async def test_another_issuers_prefix_is_not_found_and_nothing_is_written(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    dl5 = await factories.issuer("DL5")
    theirs = await factories.client_number(dl5, "DL50000101", company_name="Theirs NV")
    unknown = await client.put(f"{URL}DL50000999", json=BODY, headers=auth(key))
    existing = await client.put(f"{URL}DL50000101", json=BODY, headers=auth(key))
    assert unknown.status_code == existing.status_code == 404
    assert set(unknown.json()) == set(existing.json()) == {"status_code", "detail"}
    assert existing.json()["detail"] == unknown.json()["detail"].replace("999", "101")
    row = await ClientNumber.select().where(ClientNumber.id == theirs).first()
    assert row is not None and row["company_name"] == "Theirs NV"
    assert await ClientNumber.count() == 1 and await ClientNumberAlias.count() == 0


async def test_an_issuer_key_is_required(client: httpx.AsyncClient, transaction: Any) -> None:
    await factories.issuer_with_key("DL2")
    anonymous = await client.put(f"{URL}DL20012345", json=BODY)
    wrong = await client.put(f"{URL}DL20012345", json=BODY, headers=auth("ipk_nope"))
    assert anonymous.status_code == wrong.status_code == 401
    assert await ClientNumber.count() == 0


async def test_an_alias_names_one_client_number_of_the_issuer(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    _, other_key = await factories.issuer_with_key("DL5")
    first = await client.put(f"{URL}DL20000001", json=BODY, headers=auth(key))
    assert first.status_code == 201
    taken = await client.put(f"{URL}DL20000002", json=BODY, headers=auth(key))
    assert taken.status_code == 409
    assert "0208:0417000129" in taken.json()["detail"]
    assert "DL20000001" in taken.json()["detail"]
    assert await stored("DL20000002") is None  # nothing half-written
    # Another issuer may use the same buyer reference for its own client.
    elsewhere = await client.put(f"{URL}DL50000001", json=BODY, headers=auth(other_key))
    assert elsewhere.status_code == 201


async def test_an_alias_cannot_hide_another_client_code(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    plain = {**BODY, "aliases": []}
    await client.put(f"{URL}DL20000001", json=plain, headers=auth(key))
    shadowing = {**BODY, "aliases": ["dl2-0000001"]}
    response = await client.put(f"{URL}DL20000002", json=shadowing, headers=auth(key))
    assert response.status_code == 409 and "DL20000001" in response.json()["detail"]
    # …nor may a new code be what another number already has as its alias.
    aliased = {**BODY, "aliases": ["DL2 0000003"]}
    assert (await client.put(f"{URL}DL20000004", json=aliased, headers=auth(key))).is_success
    response = await client.put(f"{URL}DL20000003", json=plain, headers=auth(key))
    assert response.status_code == 409 and "DL20000004" in response.json()["detail"]


async def test_a_refused_update_leaves_the_client_number_as_it_was(transaction: Any) -> None:
    issuer_id = await factories.issuer("DL2")
    data = ClientNumberInput(**{**BODY, "aliases": ["REF-1"]})
    await upsert_client_number(issuer_id, "DL20000001", data)
    await upsert_client_number(issuer_id, "DL20000002", ClientNumberInput(**BODY))
    change = ClientNumberInput(**{**BODY, "company_name": "Changed BV", "aliases": ["REF-1"]})
    with pytest.raises(Conflict):  # REF-1 is DL20000001's
        await upsert_client_number(issuer_id, "DL20000002", change)
    row = await stored("DL20000002")
    assert row is not None and row["company_name"] == BODY["company_name"]
    assert await aliases_of("DL20000002") == ["0208:0417000129", "BE0417000129"]


async def test_the_service_refuses_like_the_api(transaction: Any) -> None:
    issuer_id = await factories.issuer("DL2")
    with pytest.raises(NotFound):
        await upsert_client_number(issuer_id, "DL50000001", ClientNumberInput(**BODY))
    bad = ClientNumberInput(**{**BODY, "language": "xx"})
    with pytest.raises(InvalidFields) as raised:
        await upsert_client_number(issuer_id, "DL20000001", bad)
    assert raised.value.translated() == "language: The language must be one of nl, fr, en, de."
    assert str(raised.value) == raised.value.translated()
    assert await ClientNumber.count() == 0


async def test_resolving_a_buyer_reference(transaction: Any) -> None:
    dl2 = await factories.issuer("DL2")
    dl5 = await factories.issuer("DL5")
    await upsert_client_number(dl2, "DL20000001", ClientNumberInput(**BODY))
    await factories.client_number(dl5, "DL50000001", company_name="Other NV")
    by_code = await resolve_client_number(dl2, " dl2-0000001 ")
    by_alias = await resolve_client_number(dl2, "  0208:0417000129 ")
    assert by_code is not None and by_alias is not None
    assert by_code.client_code == by_alias.client_code == "DL20000001"
    assert by_code.id == by_alias.id and by_code.issuer_id == dl2
    assert await resolve_client_number(dl2, "DL50000001") is None  # another issuer's
    assert await resolve_client_number(dl5, "0208:0417000129") is None  # not its alias
    assert await resolve_client_number(dl2, "Brouwerij Peeters BV") is None  # never a name
    assert await resolve_client_number(dl2, "be0417000129") is None  # aliases match exactly
    assert await resolve_client_number(dl2, "   ") is None


CODE_SYMBOLS = string.ascii_uppercase + string.digits


@given(
    code=st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(string.ascii_uppercase),
        st.text(CODE_SYMBOLS, min_size=3, max_size=31),
    ),
    data=st.data(),
)
def test_any_spelling_of_a_code_normalises_to_it(code: str, data: st.DataObject) -> None:
    """Case, spaces, dots, dashes, slashes and underscores anywhere: the same code."""
    spelt = ""
    for symbol in code:
        spelt += data.draw(st.sampled_from([symbol, symbol.lower()]))
        spelt += data.draw(st.text(" .-/_\t", max_size=2))
    spelt = data.draw(st.text(" -", max_size=2)) + spelt
    assert normalise_client_code(spelt) == code
    assert normalise_client_code(normalise_client_code(spelt)) == code
