"""Activation codes: typed from paper, so unambiguous and grouped; random enough that
guessing is hopeless; stored only as a keyed hash; valid 15 weeks."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iportal import clock
from iportal.accounts.services import (
    find_activation_code,
    issue_activation_code,
    normalise_activation_code,
)
from iportal.accounts.services._activation_codes import (
    ALPHABET,
    ENTROPY_BITS,
    new_activation_code,
)
from iportal.accounts.tables import ActivationCode
from iportal.security import keyed_hash
from iportal.settings import get_settings
from tests import factories
from tests.accounts.conftest import Cli
from tests.conftest import TEST_SECRET_KEY

FIFTEEN_WEEKS = timedelta(weeks=15)
GROUPED = re.compile(f"^[{ALPHABET}]{{4}}(?:-[{ALPHABET}]{{4}})+$")
URL = "/api/v1/issuer/client-numbers/{}/activation-codes"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_alphabet_has_nothing_people_confuse() -> None:
    assert not set("01OIL") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) == 31


def test_codes_are_grouped_and_carry_at_least_64_bits() -> None:
    code = new_activation_code()
    assert GROUPED.match(code), code
    symbols = code.replace("-", "")
    assert all(len(group) == 4 for group in code.split("-"))
    bits = len(symbols) * math.log2(len(ALPHABET))
    assert bits >= 64 and bits == ENTROPY_BITS


def test_codes_do_not_repeat_and_use_the_whole_alphabet() -> None:
    codes = [new_activation_code() for _ in range(20_000)]
    assert len(set(codes)) == len(codes)
    assert set("".join(codes).replace("-", "")) == set(ALPHABET)


@given(data=st.data())
def test_any_spelling_of_a_code_normalises_to_it(data: st.DataObject) -> None:
    """Lower case, spaces, tabs and dashes anywhere, as people type and paste codes."""
    code = new_activation_code()
    spelt = ""
    for symbol in code.replace("-", ""):
        spelt += data.draw(st.text(" -\t–", max_size=2))
        spelt += data.draw(st.sampled_from([symbol, symbol.lower()]))
    assert normalise_activation_code(spelt) == code.replace("-", "")
    assert normalise_activation_code(normalise_activation_code(spelt)) == code.replace("-", "")


async def test_the_issuer_api_issues_a_code_valid_15_weeks(
    client: httpx.AsyncClient, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer_id, key = await factories.issuer_with_key("DL2")
    await factories.client_number(issuer_id, "DL20012345")
    now = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
    monkeypatch.setattr(clock, "utcnow", lambda: now)
    response = await client.post(URL.format("dl2-001 2345"), headers=auth(key))
    assert response.status_code == 201, response.text
    body = response.json()
    assert GROUPED.match(body["code"]) and body["client_code"] == "DL20012345"
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires_at == (now + FIFTEEN_WEEKS).replace(microsecond=0)
    assert response.headers["cache-control"] == "no-store"
    found = await find_activation_code(get_settings(), body["code"])
    assert found is not None and found.client_code == "DL20012345"
    assert found.communicated_at == now and found.redeemed_at is None


async def test_another_issuers_number_is_not_found_like_an_unknown_one(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    _, key = await factories.issuer_with_key("DL2")
    dl5 = await factories.issuer("DL5")
    await factories.client_number(dl5, "DL50000101")
    theirs = await client.post(URL.format("DL50000101"), headers=auth(key))
    unknown = await client.post(URL.format("DL50000999"), headers=auth(key))
    not_a_code = await client.post(URL.format("%E2%82%AC%E2%82%AC"), headers=auth(key))
    assert theirs.status_code == unknown.status_code == not_a_code.status_code == 404
    assert theirs.json()["detail"] == unknown.json()["detail"].replace("999", "101")
    assert await ActivationCode.count() == 0
    assert (await client.post(URL.format("DL50000101"))).status_code == 401


async def test_only_a_keyed_hash_is_stored(transaction: Any) -> None:
    number = await factories.client_number(await factories.issuer("DL2"))
    issued = await issue_activation_code(get_settings(), number)
    plain = issued.code.replace("-", "")
    rows = await ActivationCode.raw("SELECT * FROM activation_code")
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values()).upper()
    assert plain not in stored and issued.code not in stored
    expected = keyed_hash(TEST_SECRET_KEY, plain, purpose="activation-code")
    assert rows[0]["code_hash"] == expected


async def test_validity_counts_from_when_the_code_was_communicated(transaction: Any) -> None:
    number = await factories.client_number(await factories.issuer("DL2"))
    letter_day = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    issued = await issue_activation_code(get_settings(), number, communicated_at=letter_day)
    assert issued.expires_at == letter_day + FIFTEEN_WEEKS
    assert issued.expires_at == datetime(2026, 4, 20, 8, 0, tzinfo=UTC)
    found = await find_activation_code(get_settings(), issued.code)
    assert found is not None
    assert found.communicated_at == letter_day and found.expires_at == issued.expires_at


async def test_lookup_forgives_case_and_spacing_but_nothing_else(transaction: Any) -> None:
    number = await factories.client_number(await factories.issuer("DL2"))
    issued = await issue_activation_code(get_settings(), number)
    spaced = " ".join(issued.code.lower().split("-"))
    found = await find_activation_code(get_settings(), f"  {spaced}  ")
    assert found is not None and found.client_number_id == number
    assert not hasattr(found, "code_hash")
    plain = issued.code.replace("-", "")
    other_symbol = ALPHABET[(ALPHABET.index(plain[0]) + 1) % len(ALPHABET)]
    assert await find_activation_code(get_settings(), other_symbol + plain[1:]) is None
    assert await find_activation_code(get_settings(), new_activation_code()) is None
    assert await find_activation_code(get_settings(), plain[:-1]) is None
    assert await find_activation_code(get_settings(), "") is None
    assert await find_activation_code(get_settings(), plain.replace(plain[0], "0")) is None


async def test_every_code_issued_for_a_number_is_kept(transaction: Any) -> None:
    number = await factories.client_number(await factories.issuer("DL2"))
    codes = {(await issue_activation_code(get_settings(), number)).code for _ in range(5)}
    assert len(codes) == 5
    assert await ActivationCode.count().where(ActivationCode.client_number == number) == 5


async def test_the_command_prints_one_line_per_code_and_names_the_unknown(
    cli: Cli, tmp_path: Path
) -> None:
    numbers = tmp_path / "numbers.csv"
    numbers.write_text(
        "client_code,company_name,email,first_name,last_name,language,contract_start\n"
        "DL20000001,Peeters BV,anna@peeters.example,Anna,Peeters,nl,2020-01-01\n"
        "DL50000001,Dubois SRL,marie@dubois.example,Marie,Dubois,fr,2021-06-01\n",
        encoding="utf-8",
    )
    imported = cli("client-numbers", "import", str(numbers))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    done = cli("activation-codes", "issue", "dl2 0000001", "DL29999999", "DL5-0000001")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    issued = [line.split("\t") for line in lines]
    assert [fields[0] for fields in issued] == ["DL20000001", "DL50000001"]
    for _client_code, code, expires_at in issued:
        assert GROUPED.match(code)
        expiry = datetime.fromisoformat(expires_at)
        assert expiry.tzinfo is not None
        assert abs(expiry - (datetime.now(UTC) + FIFTEEN_WEEKS)) < timedelta(minutes=5)
    assert "DL29999999" in done.stderr and "Traceback" not in done.stderr
    assert "Codes issued: 2." in done.stderr
    connection = await asyncpg.connect(cli.dsn)
    try:
        rows = await connection.fetch("SELECT code_hash FROM activation_code")
        hashes = {row["code_hash"] for row in rows}
    finally:
        await connection.close()
    for _client_code, code, _expires in issued:
        plain = code.replace("-", "")
        assert keyed_hash(TEST_SECRET_KEY, plain, purpose="activation-code") in hashes
