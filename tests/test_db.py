"""The one query API and its connection pools: document lists planned for their values,
every other statement planned once per session, and released connections handed on
without a reset query."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from iportal import db

PLAN_MODE = "SELECT current_setting('plan_cache_mode') AS mode"


async def test_lists_are_planned_per_call_and_look_ups_once(database: str) -> None:
    assert (await db.fetch(PLAN_MODE, custom_plan=True))[0]["mode"] == "force_custom_plan"
    assert await db.fetchval(PLAN_MODE) == "auto"


async def test_a_transaction_left_open_ends_with_the_release(database: str) -> None:
    pool = await asyncpg.create_pool(database, min_size=1, max_size=1, reset=db.keep_session)
    try:
        async with pool.acquire() as connection:
            pid = await connection.fetchval("SELECT pg_backend_pid()")
            await connection.execute("BEGIN")
            await connection.execute("SET LOCAL application_name = 'left open'")
            await connection.execute("CREATE TEMP TABLE left_open (id int)")
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT pg_backend_pid()") == pid
            assert await connection.fetchval("SHOW application_name") != "left open"
            assert await connection.fetchval("SELECT to_regclass('left_open')") is None
    finally:
        await pool.close()


async def backend() -> int:
    rows = await db.fetch("SELECT pg_backend_pid() AS pid, pg_sleep(0.3)", custom_plan=True)
    return int(rows[0]["pid"])


async def test_two_reads_together_run_at_once_on_two_connections(database: str) -> None:
    started = time.perf_counter()
    first, second = await db.together(backend(), backend())
    assert first != second
    assert time.perf_counter() - started < 0.55


async def test_inside_a_transaction_they_share_its_connection(transaction: Any) -> None:
    first, second = await db.together(backend(), backend())
    assert first == second == await transaction.connection.fetchval("SELECT pg_backend_pid()")


async def test_statements_run_inside_the_callers_transaction(transaction: Any) -> None:
    await db.execute("CREATE TEMP TABLE api_probe (id int PRIMARY KEY, name text)")
    assert await db.execute("INSERT INTO api_probe VALUES ($1, $2), ($3, $4)", 1, "a", 2, "b") == (
        "INSERT 0 2"
    )
    assert [r["name"] for r in await db.fetch("SELECT name FROM api_probe ORDER BY id")] == [
        "a",
        "b",
    ]
    row = await db.fetchrow("SELECT id, name FROM api_probe WHERE id = $1", 2)
    assert row is not None and (row["id"], row["name"]) == (2, "b")
    assert await db.fetchrow("SELECT id FROM api_probe WHERE id = $1", 3) is None
    assert [r["id"] async for r in db.stream("SELECT id FROM api_probe ORDER BY id")] == [1, 2]


async def test_a_failed_inner_transaction_leaves_nothing_and_the_outer_goes_on(
    transaction: Any,
) -> None:
    await db.execute("CREATE TEMP TABLE api_nested (id int PRIMARY KEY)")
    try:
        async with db.transaction():
            await db.execute("INSERT INTO api_nested VALUES (1)")
            await db.execute("INSERT INTO api_nested VALUES (1)")  # a duplicate key
    except asyncpg.UniqueViolationError:
        pass
    assert await db.fetchval("SELECT count(*) FROM api_nested") == 0
    async with db.transaction():
        await db.execute("INSERT INTO api_nested VALUES (2)")
    assert await db.fetchval("SELECT count(*) FROM api_nested") == 1


async def test_one_connection_serves_several_statements(database: str) -> None:
    async with db.connection() as connection:
        first = await connection.fetchval("SELECT pg_backend_pid()")
        second = await connection.fetchval("SELECT pg_backend_pid()")
    assert first == second


def test_a_statement_numbers_its_values_in_order() -> None:
    statement = db.Statement("SELECT 1 WHERE")
    statement.add(f"a = {statement.bind(10)} AND b = {statement.bind('x')}")
    statement.add(f"OR c = {statement.bind(None)}")
    assert statement.text == "SELECT 1 WHERE\na = $1 AND b = $2\nOR c = $3"
    assert statement.args == [10, "x", None]
