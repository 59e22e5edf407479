"""The database keeps `visible_client_number` and `visible_document` in step with who may
see what, whatever changes and in whatever order: checked against a plain Python model
of the rule after every step of random sequences of access changes and publishing."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iportal.accounts.tables import ClientNumber
from tests import factories

USERS, ACCOUNTS, NUMBERS = 4, 2, 4
STARTS = [date(2015, 1, 1), date(2020, 6, 1), date(2023, 3, 15), date(2010, 1, 1)]
BASE = date(2026, 11, 23)
# End dates around both clock changes, and none.
UNTILS = [None, date(2027, 6, 30), date(2026, 3, 28), date(2026, 10, 25)]

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("main_contact"), st.integers(0, ACCOUNTS - 1), st.integers(0, USERS - 1)),
        st.tuples(st.just("share"), st.integers(0, ACCOUNTS - 1), st.integers(0, USERS - 1)),
        st.tuples(st.just("unshare"), st.integers(0, ACCOUNTS - 1), st.integers(0, USERS - 1)),
        st.tuples(
            st.just("grant"),
            st.integers(0, ACCOUNTS - 1),
            st.integers(0, USERS - 1),
            st.integers(0, NUMBERS - 1),
        ),
        st.tuples(
            st.just("revoke"),
            st.integers(0, ACCOUNTS - 1),
            st.integers(0, USERS - 1),
            st.integers(0, NUMBERS - 1),
        ),
        st.tuples(st.just("attach"), st.integers(0, NUMBERS - 1), st.integers(-1, ACCOUNTS - 1)),
        st.tuples(st.just("start"), st.integers(0, NUMBERS - 1), st.integers(0, 12 * 365)),
        st.tuples(st.just("publish"), st.integers(0, NUMBERS - 1), st.integers(0, 12 * 365)),
        st.tuples(st.just("redate"), st.integers(0, 30), st.integers(0, 12 * 365)),
        st.tuples(st.just("delete_user"), st.integers(0, USERS - 1)),
        st.tuples(
            st.just("until"),
            st.integers(0, ACCOUNTS - 1),
            st.integers(0, USERS - 1),
            st.sampled_from(UNTILS),
        ),
        st.tuples(st.just("rename"), st.integers(0, NUMBERS - 1), st.text("ab &<", max_size=5)),
    ),
    min_size=1,
    max_size=25,
)


class World:
    """A few users, accounts and client numbers, changed by plain SQL as any code path
    (service, import, psql) would."""

    def __init__(self, users: list[int], accounts: list[int], numbers: list[int]) -> None:
        self.users, self.accounts, self.numbers = users, accounts, numbers
        self.documents: list[int] = []

    async def apply(self, step: tuple[Any, ...]) -> None:
        kind, *args = step
        await getattr(self, kind)(*args)

    async def main_contact(self, account: int, user: int) -> None:
        await sql(
            "UPDATE account_membership SET user_id = u.id FROM portal_user u "
            "WHERE u.id = {} AND account_id = {}",
            self.users[user],
            self.accounts[account],
        )

    async def share(self, account: int, user: int) -> None:
        await sql(
            "INSERT INTO shared_user (account_id, user_id) SELECT {}, id FROM portal_user "
            "WHERE id = {} ON CONFLICT DO NOTHING",
            self.accounts[account],
            self.users[user],
        )

    async def unshare(self, account: int, user: int) -> None:
        await sql(
            "DELETE FROM shared_user WHERE account_id = {} AND user_id = {}",
            self.accounts[account],
            self.users[user],
        )

    async def grant(self, account: int, user: int, number: int) -> None:
        await sql(
            "INSERT INTO client_number_grant (shared_user_id, client_number_id) "
            "SELECT id, {} FROM shared_user WHERE account_id = {} AND user_id = {} "
            "ON CONFLICT DO NOTHING",
            self.numbers[number],
            self.accounts[account],
            self.users[user],
        )

    async def revoke(self, account: int, user: int, number: int) -> None:
        await sql(
            "DELETE FROM client_number_grant g USING shared_user su "
            "WHERE g.shared_user_id = su.id AND su.account_id = {} AND su.user_id = {} "
            "AND g.client_number_id = {}",
            self.accounts[account],
            self.users[user],
            self.numbers[number],
        )

    async def attach(self, number: int, account: int) -> None:
        await sql(
            "UPDATE client_number SET account_id = {}, delivery_channel = {} WHERE id = {}",
            None if account < 0 else self.accounts[account],
            "paper" if account < 0 else "electronic",
            self.numbers[number],
        )

    async def start(self, number: int, days: int) -> None:
        await sql(
            "UPDATE client_number SET contract_start = {} WHERE id = {}",
            BASE - timedelta(days=days),
            self.numbers[number],
        )

    async def publish(self, number: int, days: int) -> None:
        document = await factories.document(
            self.numbers[number], issue_date=BASE - timedelta(days=days)
        )
        self.documents.append(document)

    async def redate(self, which: int, days: int) -> None:
        if self.documents:
            await sql(
                "UPDATE document SET issue_date = {}, due_date = NULL WHERE id = {}",
                BASE - timedelta(days=days),
                self.documents[which % len(self.documents)],
            )

    async def rename(self, number: int, name: str) -> None:
        await sql(
            "UPDATE client_number SET company_name = {} WHERE id = {}",
            f"Company {name}",
            self.numbers[number],
        )

    async def until(self, account: int, user: int, last_day: date | None) -> None:
        await sql(
            "UPDATE shared_user SET access_until = {} WHERE account_id = {} AND user_id = {}",
            last_day,
            self.accounts[account],
            self.users[user],
        )

    async def delete_user(self, user: int) -> None:
        await sql("DELETE FROM portal_user WHERE id = {}", self.users[user])


async def sql(statement: str, *values: Any) -> list[dict[str, Any]]:
    return await ClientNumber.raw(statement, *values)


def ends_at(last_day: date | None) -> datetime | None:
    """The end of the last day in Brussels, in UTC."""
    if last_day is None:
        return None
    midnight = datetime.combine(last_day + timedelta(days=1), time(), ZoneInfo("Europe/Brussels"))
    return midnight.astimezone(UTC)


def latest(ends: list[datetime | None]) -> datetime | None:
    """Of several paths to a number, no end wins, else the latest end."""
    return None if None in ends else max(e for e in ends if e is not None)


async def expected() -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The rule, in Python: a main contact sees their accounts' numbers; a shared user
    sees the numbers ticked for them that still belong to the account they were shared
    from, until their end date's end; each number's documents from its contract start
    on."""
    numbers = {
        row["id"]: row
        for row in await sql(
            "SELECT id, account_id, contract_start, client_code, company_name FROM client_number"
        )
    }
    paths: dict[tuple[int, int], list[datetime | None]] = {}
    for row in await sql("SELECT account_id, user_id FROM account_membership"):
        for n, c in numbers.items():
            if c["account_id"] == row["account_id"]:
                paths.setdefault((row["user_id"], n), []).append(None)
    for row in await sql(
        "SELECT su.user_id, su.account_id, su.access_until, g.client_number_id "
        "FROM shared_user su JOIN client_number_grant g ON g.shared_user_id = su.id"
    ):
        if numbers[row["client_number_id"]]["account_id"] == row["account_id"]:
            key = (row["user_id"], row["client_number_id"])
            paths.setdefault(key, []).append(ends_at(row["access_until"]))
    seen = {key: latest(ends) for key, ends in paths.items()}
    client_numbers = {
        (
            u,
            n,
            numbers[n]["contract_start"],
            numbers[n]["client_code"],
            numbers[n]["company_name"],
            end,
        )
        for (u, n), end in seen.items()
    }
    documents = {
        (u, d["id"], d["issue_date"], d["amount_incl_vat"], d["number"], end)
        for d in await sql("SELECT * FROM document")
        for (u, n), end in seen.items()
        if d["client_number_id"] == n and d["issue_date"] >= numbers[n]["contract_start"]
    }
    return client_numbers, documents


async def kept() -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    client_numbers = {
        (
            r["user_id"],
            r["client_number_id"],
            r["since"],
            r["client_code"],
            r["company_name"],
            r["access_ends_at"],
        )
        for r in await sql("SELECT * FROM visible_client_number")
    }
    documents = {
        (
            r["user_id"],
            r["document_id"],
            r["issue_date"],
            r["amount_incl_vat"],
            r["number"],
            r["access_ends_at"],
        )
        for r in await sql("SELECT * FROM visible_document")
    }
    return client_numbers, documents


async def world() -> World:
    issuer_id = await factories.issuer()
    numbers = [await factories.client_number(issuer_id, contract_start=s) for s in STARTS]
    users = [await factories.user() for _ in range(USERS)]
    accounts = [
        await factories.account(users[0], numbers[0], numbers[1]),
        await factories.account(users[1], numbers[2]),
    ]
    made = World(users, accounts, numbers)
    for number in numbers:
        for days in (10, 2000, 4000):
            await made.publish(numbers.index(number), days)
    return made


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
async def test_what_the_database_keeps_is_the_rule_after_every_step(
    transaction: Any, steps: list[tuple[Any, ...]]
) -> None:
    savepoint = await transaction.savepoint()
    try:
        made = await world()
        assert await kept() == await expected()
        for step in steps:
            await made.apply(step)
            assert await kept() == await expected(), step
    finally:
        await savepoint.rollback_to()


async def test_a_document_published_while_access_is_granted_is_seen(database: str) -> None:
    """Publishing and a grant in two transactions at once, either committing first: the
    document is seen. The reverse (a revocation) leaves nothing behind."""
    for publish_first in (True, False):
        setup = await asyncpg.connect(database)
        try:
            ids = await _two_people(setup)
            publisher, granter = await asyncpg.connect(database), await asyncpg.connect(database)
            try:
                await _race(publisher, granter, ids, publish_first, revoke=False)
                assert (
                    await setup.fetchval(
                        "SELECT count(*) FROM visible_document WHERE user_id = $1 "
                        "AND document_id = (SELECT max(id) FROM document d "
                        "WHERE d.client_number_id = $2)",
                        ids["accountant"],
                        ids["number"],
                    )
                    == 1
                )
                await _race(publisher, granter, ids, publish_first, revoke=True)
                assert (
                    await setup.fetchval(
                        "SELECT count(*) FROM visible_document WHERE user_id = $1",
                        ids["accountant"],
                    )
                    == 0
                )
            finally:
                await publisher.close()
                await granter.close()
        finally:
            await _forget(setup, ids)
            await setup.close()


async def _two_people(db: asyncpg.Connection) -> dict[str, int]:
    issuer = await db.fetchval(
        "INSERT INTO issuer (prefix, name) VALUES ('RAC', 'Race NV') RETURNING id"
    )
    owner, accountant = [
        await db.fetchval(
            "INSERT INTO portal_user (email) VALUES ($1) RETURNING id", f"{who}@race.test"
        )
        for who in ("owner", "accountant")
    ]
    account = await db.fetchval(
        "INSERT INTO account (kind, login) VALUES ('b2b', 'race') RETURNING id"
    )
    await db.execute(
        "INSERT INTO account_membership (account_id, user_id) VALUES ($1, $2)", account, owner
    )
    number = await db.fetchval(
        "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
        "contract_start, account_id, delivery_channel) VALUES ($1, 'RAC0000001', 'Race BV', "
        "'race@race.test', '2015-01-01', $2, 'electronic') RETURNING id",
        issuer,
        account,
    )
    shared = await db.fetchval(
        "INSERT INTO shared_user (account_id, user_id) VALUES ($1, $2) RETURNING id",
        account,
        accountant,
    )
    return dict(
        issuer=issuer,
        owner=owner,
        accountant=accountant,
        account=account,
        number=number,
        shared=shared,
    )


async def _race(
    publisher: asyncpg.Connection,
    granter: asyncpg.Connection,
    ids: dict[str, int],
    publish_first: bool,
    revoke: bool,
) -> None:
    """Both transactions do their write, the first commits while the second is still
    waiting or writing, then the second commits."""
    publish = publisher.transaction()
    grant = granter.transaction()
    await publish.start()
    await grant.start()
    publishing = publisher.execute(
        "INSERT INTO document (client_number_id, type, number, issue_date, amount_excl_vat, "
        "vat_amount, amount_incl_vat, pdf_blob_hash) VALUES ($1, 'invoice', $2, '2026-01-01', "
        "100, 21, 121, $3)",
        ids["number"],
        f"RACE-{publish_first}-{revoke}",
        "0" * 64,
    )
    granting = granter.execute(
        "DELETE FROM client_number_grant WHERE shared_user_id = $1"
        if revoke
        else "INSERT INTO client_number_grant (shared_user_id, client_number_id) VALUES ($1, $2)",
        *((ids["shared"],) if revoke else (ids["shared"], ids["number"])),
    )
    first, second = (publishing, granting) if publish_first else (granting, publishing)
    first_done, second_done = (publish, grant) if publish_first else (grant, publish)
    await first
    waiting = asyncio.ensure_future(second)  # blocks on the first's lock, or not
    await asyncio.sleep(0.2)
    await first_done.commit()
    await waiting
    await second_done.commit()


async def _forget(db: asyncpg.Connection, ids: dict[str, int]) -> None:
    numbers = "SELECT id FROM client_number WHERE issuer_id = $1"
    await db.execute(
        f"DELETE FROM document_event WHERE client_number_id IN ({numbers})", ids["issuer"]
    )
    await db.execute(f"DELETE FROM document WHERE client_number_id IN ({numbers})", ids["issuer"])
    await db.execute("DELETE FROM client_number WHERE issuer_id = $1", ids.get("issuer"))
    await db.execute("DELETE FROM account WHERE login = 'race'")
    await db.execute("DELETE FROM portal_user WHERE email LIKE '%@race.test'")
    await db.execute("DELETE FROM issuer WHERE prefix = 'RAC'")


async def test_publishing_and_a_refresh_take_their_locks_in_one_order(database: str) -> None:
    """A batch with documents of numbers B then A, while a change of access holds A and
    then needs B: publishing waits at A without holding B, so both finish (taken in
    the batch's order, the two would deadlock and one would fail)."""
    setup = await asyncpg.connect(database)
    admin = await asyncpg.connect(database)
    publisher = await asyncpg.connect(database)
    ids = await _two_people(setup)
    try:
        second = await _second_number(setup, ids)
        first = ids["number"]
        assert first < second
        change = admin.transaction()
        await change.start()
        await admin.execute("SELECT 1 FROM client_number WHERE id = $1 FOR UPDATE", first)
        text, args = _insert_sql([second, first])
        batch = publisher.transaction()
        await batch.start()
        publishing = asyncio.ensure_future(publisher.fetch(text, *args))
        await asyncio.sleep(0.3)  # the batch now waits for the first number
        await admin.execute(
            "UPDATE client_number SET contract_start = '2016-01-01' WHERE id = $1", second
        )
        await change.commit()
        inserted = await asyncio.wait_for(publishing, timeout=10)
        await batch.commit()
        assert sorted(r["client_number_id"] for r in inserted) == [first, second]
        assert await setup.fetchval(
            "SELECT since FROM visible_client_number WHERE client_number_id = $1", second
        ) == date(2016, 1, 1)
    finally:
        await admin.close()
        await publisher.close()
        await _forget(setup, ids)
        await setup.close()


def _insert_sql(numbers: list[int]) -> tuple[str, list[Any]]:
    """`recording.insert_documents`' statement for one invoice per number, as asyncpg
    takes it."""
    from iportal.documents.publishing import DocumentFields, NewDocument, insert_statement

    fields = DocumentFields(
        type="invoice",
        type_code="380",
        number="RACE-LOCK",
        issue_date=date(2026, 1, 1),
        due_date=None,
        currency="EUR",
        amount_excl_vat=Decimal("100.00"),
        vat_amount=Decimal("21.00"),
        amount_incl_vat=Decimal("121.00"),
        amount_due=None,
    )
    documents = [NewDocument(n, fields, "0" * 64, 1000, 1) for n in numbers]
    return insert_statement(documents)


async def test_a_refresh_and_a_change_of_a_number_do_not_deadlock(database: str) -> None:
    """One transaction grants a number and then revokes another, while a second changes
    the other number's contract start: the second never waits for the first's user."""
    setup = await asyncpg.connect(database)
    granter, issuer_side = await asyncpg.connect(database), await asyncpg.connect(database)
    ids = await _two_people(setup)
    try:
        other = await _second_number(setup, ids)
        await setup.execute(
            "INSERT INTO client_number_grant (shared_user_id, client_number_id) VALUES ($1, $2)",
            ids["shared"],
            ids["number"],
        )
        grants = granter.transaction()
        await grants.start()
        await granter.execute(
            "INSERT INTO client_number_grant (shared_user_id, client_number_id) VALUES ($1, $2)",
            ids["shared"],
            other,
        )
        change = issuer_side.transaction()
        await change.start()
        await asyncio.wait_for(
            issuer_side.execute(
                "UPDATE client_number SET contract_start = '2016-01-01' WHERE id = $1",
                ids["number"],
            ),
            timeout=5,
        )
        revoking = asyncio.ensure_future(
            granter.execute(
                "DELETE FROM client_number_grant WHERE shared_user_id = $1 "
                "AND client_number_id = $2",
                ids["shared"],
                ids["number"],
            )
        )
        await asyncio.sleep(0.3)
        await change.commit()
        await asyncio.wait_for(revoking, timeout=10)
        await grants.commit()
        seen = await setup.fetch(
            "SELECT client_number_id, since FROM visible_client_number WHERE user_id = $1",
            ids["accountant"],
        )
        assert [(r["client_number_id"], r["since"]) for r in seen] == [(other, date(2015, 1, 1))]
    finally:
        await granter.close()
        await issuer_side.close()
        await _forget(setup, ids)
        await setup.close()


async def test_emptying_an_access_table_at_once_is_followed(transaction: Any) -> None:
    made = await world()
    await made.share(0, 2)
    await made.grant(0, 2, 0)
    assert await kept() == await expected()
    await sql("TRUNCATE client_number_grant")
    assert await kept() == await expected()
    assert not [r for r in (await kept())[0] if r[0] == made.users[2]]


async def test_visibility_is_kept_under_read_committed_only(database: str) -> None:
    db = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.RaiseError, match="READ COMMITTED only"):
            async with db.transaction(isolation="repeatable_read"):
                await db.execute("SELECT refresh_visibility(ARRAY[1])")
    finally:
        await db.close()


async def _second_number(db: asyncpg.Connection, ids: dict[str, int]) -> int:
    return int(
        await db.fetchval(
            "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
            "contract_start, account_id, delivery_channel) VALUES ($1, 'RAC0000002', "
            "'Race Two BV', 'two@race.test', '2015-01-01', $2, 'electronic') RETURNING id",
            ids["issuer"],
            ids["account"],
        )
    )
