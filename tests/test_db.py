"""The connection pools: document lists planned for their values, every other statement
planned once per session, and released connections handed on without a reset query."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from iportal import db

PLAN_MODE = "SELECT current_setting('plan_cache_mode') AS mode"


async def test_lists_are_planned_per_call_and_look_ups_once(database: str) -> None:
    assert (await db.fetch_custom_planned(PLAN_MODE, []))[0]["mode"] == "force_custom_plan"
    assert (await db.get_engine().run_ddl(PLAN_MODE))[0]["mode"] == "auto"


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
    rows = await db.fetch_custom_planned("SELECT pg_backend_pid() AS pid, pg_sleep(0.3)", [])
    return int(rows[0]["pid"])


async def test_two_reads_together_run_at_once_on_two_connections(database: str) -> None:
    started = time.perf_counter()
    first, second = await db.together(backend(), backend())
    assert first != second
    assert time.perf_counter() - started < 0.55


async def test_inside_a_transaction_they_share_its_connection(transaction: Any) -> None:
    first, second = await db.together(backend(), backend())
    assert first == second == await transaction.connection.fetchval("SELECT pg_backend_pid()")
