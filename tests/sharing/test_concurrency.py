"""Access changes at the same moment as each other and as publishing, on committed data
through the real services on separate pooled connections (not the rolled-back test
transaction), many rounds each: every access change takes the account, then all its
client numbers in id order, so two changes to one account run one after the other and
a change never deadlocks with a batch being published."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from iportal import db
from iportal.app import create_app
from iportal.documents.publishing.metadata import DocumentFields
from iportal.documents.publishing.recording import NewDocument, insert_documents
from iportal.errors import InvalidInput, NotFound
from iportal.settings import get_settings
from iportal.sharing import services, shared_users
from iportal.sharing.tables import Grant
from tests import factories
from tests.sharing.test_visibility import expected, kept

ROUNDS = 50


@dataclass
class Account:
    prefix: str
    anna: int
    luc: int
    marie: int
    account: int
    numbers: list[int]
    codes: list[str]
    luc_shared: int
    marie_shared: int
    issuer: int


async def _sql(query: str, *values: Any) -> list[dict[str, Any]]:
    return await Grant.raw(query, *values)


@pytest.fixture
async def account(database: str) -> AsyncIterator[Account]:
    """Anna's B2B account with four numbers (documents on each), Luc and Marie shared
    users of it, committed; all removed afterwards."""
    prefix = "Q" + secrets.token_hex(2).upper().replace("0", "A")
    issuer = await factories.issuer(prefix)
    codes = [f"{prefix}000000{i}" for i in range(1, 5)]
    numbers = [await factories.client_number(issuer, code) for code in codes]
    anna = await factories.user(f"anna@{prefix.lower()}.example", first_name="Anna")
    luc = await factories.user(f"luc@{prefix.lower()}.example", first_name="Luc")
    marie = await factories.user(f"marie@{prefix.lower()}.example", first_name="Marie")
    account_id = await factories.account(anna, *numbers)
    for number in numbers:
        for _ in range(3):
            await factories.document(number)
    luc_shared = await factories.shared_user(account_id, luc, numbers[0])
    marie_shared = await factories.shared_user(account_id, marie)
    made = Account(
        prefix, anna, luc, marie, account_id, numbers, codes, luc_shared, marie_shared, issuer
    )
    try:
        yield made
    finally:
        users = [anna, luc, marie]
        await _sql(
            "DELETE FROM audit_event WHERE account_id = {} OR actor_id = ANY({}) "
            "OR client_number_id = ANY({})",
            account_id,
            users,
            numbers,
        )
        await _sql("DELETE FROM outbox_email WHERE user_id = ANY({})", users)
        await _sql("DELETE FROM document WHERE client_number_id = ANY({})", numbers)
        await _sql("DELETE FROM client_number WHERE id = ANY({})", numbers)
        await _sql("DELETE FROM account WHERE id = {}", account_id)
        await _sql("DELETE FROM portal_user WHERE id = ANY({})", users)
        await _sql("DELETE FROM issuer WHERE id = {}", issuer)


async def _tick(made: Account, shared_user_id: int, codes: list[str]) -> Any:
    return await shared_users.update_shared_user(
        get_settings(),
        made.anna,
        shared_user_id,
        client_codes=codes,
    )


async def _granted(shared_user_id: int) -> set[str]:
    rows = await _sql(
        "SELECT cn.client_code FROM client_number_grant g "
        "JOIN client_number cn ON cn.id = g.client_number_id WHERE g.shared_user_id = {}",
        shared_user_id,
    )
    return {row["client_code"] for row in rows}


async def _seen(user_id: int) -> set[str]:
    return set((await services.visible_client_numbers(user_id)).codes)


async def _no_login(made: Account) -> None:
    # The services tell a person with a login by e-mail; these tests are about rows.
    await _sql(
        "UPDATE portal_user SET password_hash = NULL WHERE id = ANY({})", [made.luc, made.marie]
    )


async def test_a_grant_and_a_revocation_at_once_end_as_one_of_the_two(
    account: Account,
) -> None:
    made = account
    await _no_login(made)
    first, second = made.codes[0], made.codes[1]
    for _ in range(ROUNDS):
        await _tick(made, made.luc_shared, [first])
        await asyncio.gather(
            _tick(made, made.luc_shared, [first, second]),  # the grant
            _tick(made, made.luc_shared, []),  # the revocation
        )
        granted = await _granted(made.luc_shared)
        assert granted in ({first, second}, set()), granted  # never half of each
        assert await _seen(made.luc) == granted
        assert await kept() == await expected()


async def test_a_revocation_and_a_deletion_against_a_grant_leave_nothing_behind(
    account: Account,
) -> None:
    made = account
    await _no_login(made)
    for _ in range(ROUNDS // 5):
        person = await factories.user(password_hash=None)
        shared = await factories.shared_user(made.account, person, made.numbers[0])
        grant, deletion = await asyncio.gather(
            _tick(made, shared, made.codes[:2]),
            shared_users.delete_shared_user(made.anna, shared),
            return_exceptions=True,
        )
        assert deletion is None, deletion
        assert grant is None or isinstance(grant, (shared_users.SharedUser, NotFound)), grant
        assert await _seen(person) == set()
        assert await kept() == await expected()
        await _sql("DELETE FROM portal_user WHERE id = {}", person)


async def test_no_request_after_the_revocations_commit_sees_the_number(
    account: Account, settings: Any
) -> None:
    made = account
    transport = httpx.ASGITransport(app=create_app(settings, manage_pool=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as luc:
        login = {"username": f"luc@{made.prefix.lower()}.example", "password": factories.PASSWORD}
        assert (await luc.post("/api/v1/auth/login", json=login)).status_code == 200
        await _no_login(made)  # the session stays; the services send no e-mail
        second = made.numbers[1]
        docs = [
            r["id"]
            for r in await _sql("SELECT id FROM document WHERE client_number_id = {}", second)
        ]
        for _ in range(ROUNDS // 2):
            await _tick(made, made.luc_shared, made.codes[:2])
            listed = (await luc.get("/api/v1/documents")).json()["items"]
            assert set(docs) <= {item["id"] for item in listed}
            committed = asyncio.Event()

            async def revoke(committed: asyncio.Event) -> None:
                await _tick(made, made.luc_shared, made.codes[:1])
                committed.set()

            async def read(committed: asyncio.Event) -> None:
                while not committed.is_set():  # before or during: either answer
                    await luc.get(f"/api/v1/documents/{docs[0]}")
                after = await luc.get(f"/api/v1/documents/{docs[0]}/pdf")
                assert after.status_code == 404
                assert (await luc.get(f"/api/v1/documents/{docs[0]}")).status_code == 404
                listed = (await luc.get("/api/v1/documents")).json()["items"]
                assert not set(docs) & {item["id"] for item in listed}

            await asyncio.gather(revoke(committed), read(committed))


def _batch(made: Account, round_: int) -> list[NewDocument]:
    """One document on each number, highest number first (publishing sorts them)."""
    return [
        NewDocument(
            number,
            DocumentFields(
                "invoice",
                f"B{round_}-{i}",
                date(2025, 1, 1),
                "EUR",
                Decimal("10.00"),
                Decimal("2.10"),
                Decimal("12.10"),
            ),
            "0" * 64,
            1,
            1,
        )
        for i, number in enumerate(reversed(made.numbers))
    ]


async def test_a_change_of_several_numbers_and_a_batch_published_to_them_never_deadlock(
    account: Account,
) -> None:
    made = account
    await _no_login(made)
    odd, even = [made.codes[0], made.codes[2]], [made.codes[1], made.codes[3]]
    await _tick(made, made.luc_shared, odd)

    async def publish(round_: int) -> None:
        async with db.transaction():
            await insert_documents(_batch(made, round_))
            await asyncio.sleep(0)  # the batch holds its locks across a turn

    for round_ in range(ROUNDS):
        # Revokes two numbers and grants two, statement by statement, while the batch
        # is published to all four (a deadlock would raise DeadlockDetectedError).
        wanted = even if round_ % 2 == 0 else odd
        await asyncio.gather(_tick(made, made.luc_shared, wanted), publish(round_))
        assert await _granted(made.luc_shared) == set(wanted)
        assert await kept() == await expected()


async def test_two_changes_to_one_account_at_once_both_land(account: Account) -> None:
    """Two PATCHes ticking different numbers for two people, and an opt-out against a
    grant of the same number: each change sees the other's, none is lost."""
    made = account
    await _no_login(made)
    for round_ in range(ROUNDS // 2):
        await _sql(
            "UPDATE client_number SET account_id = {}, delivery_channel = 'electronic' "
            "WHERE id = {}",
            made.account,
            made.numbers[3],
        )
        await _tick(made, made.luc_shared, [])
        await _tick(made, made.marie_shared, [])
        luc_codes, marie_codes = [made.codes[round_ % 3]], [made.codes[(round_ + 1) % 3]]
        await asyncio.gather(
            _tick(made, made.luc_shared, luc_codes), _tick(made, made.marie_shared, marie_codes)
        )
        assert await _seen(made.luc) == set(luc_codes)
        assert await _seen(made.marie) == set(marie_codes)

        grant, opted_out = await asyncio.gather(
            _tick(made, made.luc_shared, [*luc_codes, made.codes[3]]),
            services.opt_out(made.anna, made.codes[3]),
            return_exceptions=True,
        )
        assert opted_out == made.codes[3], opted_out
        # Granted first, then ended by the opt-out; or refused as no longer the account's.
        assert isinstance(grant, (shared_users.SharedUser, InvalidInput)), grant
        assert await _granted(made.luc_shared) == set(luc_codes)
        assert await _seen(made.luc) == set(luc_codes)
        assert await kept() == await expected()
