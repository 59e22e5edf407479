"""Two completions at the same instant, through two app instances on two connections
with committed data (not the rolled-back test transaction): exactly one wins, because
the code is consumed by one conditional UPDATE … RETURNING."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal import clock
from iportal.accounts.services import issue_activation_code
from iportal.accounts.tables import ActivationCode, Registration, ThrottleAttempt
from iportal.app import create_app
from iportal.security import keyed_hash, new_token
from iportal.settings import get_settings
from tests import factories
from tests.accounts.opt_in_helpers import NEW_PASSWORD
from tests.conftest import TEST_SECRET_KEY

EMAILS = ("first@race.example", "second@race.example")


@dataclass(frozen=True)
class Committed:
    client_number_id: int
    code_id: int
    tokens: tuple[str, str]


async def _registration(code_id: int, email: str) -> str:
    token = new_token()
    now = clock.utcnow()
    await Registration.insert(
        Registration(
            activation_code=code_id,
            email=email,
            language="nl",
            token_hash=keyed_hash(TEST_SECRET_KEY, token, purpose="registration"),
            created_at=now,
            expires_at=now + timedelta(days=5),
        )
    )
    return token


async def _sql(query: str, *values: Any) -> list[dict[str, Any]]:
    return await ActivationCode.raw(query, *values)


@pytest.fixture
async def committed(database: str) -> AsyncIterator[Committed]:
    """A number, its code and two pending registrations, committed; all removed after."""
    last = await _sql("SELECT coalesce(max(id), 0) AS id FROM throttle_attempt")
    prefix = "R" + secrets.token_hex(2).upper().replace("0", "A")
    issuer_id = await factories.issuer(prefix)
    number = await factories.client_number(issuer_id, f"{prefix}0000001", email=EMAILS[0])
    await issue_activation_code(get_settings(), number)
    code = await ActivationCode.select(ActivationCode.id).where(
        ActivationCode.client_number == number
    )
    code_id = int(code[0]["id"])
    tokens = (await _registration(code_id, EMAILS[0]), await _registration(code_id, EMAILS[1]))
    try:
        yield Committed(number, code_id, tokens)
    finally:
        users = [
            r["id"]
            for r in await _sql("SELECT id FROM portal_user WHERE email = ANY({})", list(EMAILS))
        ]
        await _sql(
            "DELETE FROM audit_event WHERE client_number_id = {} OR actor_id = ANY({})",
            number,
            users,
        )
        await _sql("DELETE FROM user_session WHERE user_id = ANY({})", users)
        await _sql(
            "UPDATE client_number SET account_id = NULL, delivery_channel = 'paper' WHERE id = {}",
            number,
        )
        await _sql(
            "DELETE FROM account WHERE id IN (SELECT account_id FROM account_membership"
            " WHERE user_id = ANY({}))",
            users,
        )
        await _sql("DELETE FROM portal_user WHERE id = ANY({})", users)
        await _sql("DELETE FROM outbox_email WHERE client_number_id = {}", number)
        await _sql("DELETE FROM client_number WHERE id = {}", number)
        await _sql("DELETE FROM issuer WHERE id = {}", issuer_id)
        await ThrottleAttempt.delete().where(ThrottleAttempt.id > last[0]["id"])


async def _at_once(settings: Any, first: str, second: str) -> list[httpx.Response]:
    """Two app instances, two connections from the pool, the two requests together."""

    async def complete(token: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(settings, manage_pool=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post(
                "/api/v1/activation/complete", json={"token": token, "password": NEW_PASSWORD}
            )

    return list(await asyncio.gather(complete(first), complete(second)))


async def test_two_registrations_of_one_code_at_once_exactly_one_wins(
    committed: Committed, settings: Any
) -> None:
    responses = await _at_once(settings, *committed.tokens)
    assert sorted(r.status_code for r in responses) == [201, 410], [r.text for r in responses]
    loser = next(r for r in responses if r.status_code == 410)
    assert "already been used" in loser.json()["detail"]
    code = await _sql("SELECT * FROM activation_code WHERE id = {}", committed.code_id)
    winner = await _sql("SELECT * FROM portal_user WHERE id = {}", code[0]["redeemed_by_id"])
    assert len(winner) == 1
    # The loser left nothing behind: no second user, no second account.
    users = await _sql("SELECT id FROM portal_user WHERE email = ANY({})", list(EMAILS))
    assert len(users) == 1
    number = await _sql(
        "SELECT account_id FROM client_number WHERE id = {}", committed.client_number_id
    )
    accounts = await _sql(
        "SELECT account_id FROM account_membership WHERE user_id = {}", winner[0]["id"]
    )
    assert [a["account_id"] for a in accounts] == [number[0]["account_id"]]
    redeemed = await _sql(
        "SELECT count(*) AS n FROM audit_event WHERE kind = 'code_redeemed'"
        " AND client_number_id = {}",
        committed.client_number_id,
    )
    assert redeemed[0]["n"] == 1


async def test_the_same_link_opened_twice_at_once_completes_once(
    committed: Committed, settings: Any
) -> None:
    token = committed.tokens[0]
    responses = await _at_once(settings, token, token)
    assert sorted(r.status_code for r in responses) == [201, 410], [r.text for r in responses]
    users = await _sql("SELECT id FROM portal_user WHERE email = ANY({})", list(EMAILS))
    assert len(users) == 1
