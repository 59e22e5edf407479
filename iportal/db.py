"""Database set-up: an embedded PostgreSQL in the data folder, or `DATABASE_URL`.

Piccolo finds its engine through `PICCOLO_CONF`, which points here: `DB` is
built on first use (module `__getattr__`), so importing a table never starts a
database, and the piccolo CLI, `serve`, `worker` and the tests share one path.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from iportal.settings import Settings, get_settings

log = logging.getLogger(__name__)
A = TypeVar("A")
B = TypeVar("B")

os.environ.setdefault("PICCOLO_CONF", "iportal.db")

APP_REGISTRY = AppRegistry(
    apps=[
        "iportal.accounts.piccolo_app",
        "iportal.documents.piccolo_app",
        "iportal.sharing.piccolo_app",
        "iportal.notifications.piccolo_app",
    ]
)

# Serialises `migrate` between `serve`, `worker` and the CLI started together.
MIGRATION_LOCK_ID = 0x1F0A7A1

_engine: PostgresEngine | None = None
# Sessions that plan every statement for its values: see `fetch_custom_planned`.
_custom_plan_pool: asyncpg.Pool | None = None


def embedded_dsn(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL kept in `data_dir` and return its DSN.

    `cleanup_mode=None` leaves the server running when this process exits, so
    that `serve`, `worker` and CLI commands can share it; the data survives
    restarts because it lives in the data folder.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver_module().get_server(data_dir, cleanup_mode=None)
    return str(server.get_uri())


def pgserver_module() -> Any:
    """pgserver, imported only when needed (no DATABASE_URL).

    It keeps an inter-process lock under the runtime folder, which it picks at
    import time; give it a private one when the environment has none.
    """
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = Path(tempfile.gettempdir()) / f"iportal-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import pgserver

    return pgserver


def database_dsn(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return embedded_dsn(settings.embedded_db_dir)


def get_engine() -> PostgresEngine:
    """The process's engine, created on first use from the settings."""
    global _engine
    if _engine is None:
        _engine = PostgresEngine(
            # JIT compiles for tens of milliseconds on plans that run in a few.
            config={"dsn": database_dsn(get_settings()), "server_settings": {"jit": "off"}}
        )
    return _engine


def __getattr__(name: str) -> Any:
    if name == "DB":
        return get_engine()
    raise AttributeError(name)


async def keep_session(_connection: Any) -> None:
    """The pool's reset: none beyond asyncpg's own rollback of an open transaction.

    Pooled sessions never take session advisory locks, LISTEN, keep cursors past a
    transaction or SET anything (`migrate` locks on a connection of its own), so the
    default reset (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) would
    only add a round trip to every statement run outside a transaction.
    """


async def open_pool(max_size: int = 10) -> None:
    global _custom_plan_pool
    engine = get_engine()
    await engine.start_connection_pool(min_size=1, max_size=max_size, reset=keep_session)
    settings = {**engine.config["server_settings"], "plan_cache_mode": "force_custom_plan"}
    _custom_plan_pool = await asyncpg.create_pool(
        **{**engine.config, "server_settings": settings},
        min_size=0,
        max_size=max_size,
        reset=keep_session,
    )


async def close_pool() -> None:
    global _custom_plan_pool
    await get_engine().close_connection_pool()
    if _custom_plan_pool is not None:
        await _custom_plan_pool.close()
        _custom_plan_pool = None


async def fetch_custom_planned(sql: str, params: list[Any]) -> list[asyncpg.Record]:
    """Rows of a statement planned anew for its values on every call (`sql` with
    piccolo's `{}` placeholders), for statements whose best plan depends on them.

    The document list's plan depends on which client numbers and filters it gets, so
    a generic plan, which PostgreSQL may pick for a statement prepared once and run
    often, can be many times slower. Every other statement keeps its plan per session:
    re-planning the session and visibility look-ups cost more than running them.
    """
    query, args = QueryString(sql, *params).compile_string(engine_type="postgres")
    outer = get_engine().current_transaction.get()
    if outer is not None:  # the caller's transaction (and the tests') must see its rows
        rows: list[asyncpg.Record] = await outer.connection.fetch(query, *args)
        return rows
    assert _custom_plan_pool is not None, "the connection pool is not open"
    async with _custom_plan_pool.acquire() as connection:
        rows = await connection.fetch(query, *args)
    return rows


async def together(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Two independent reads at once, each on a pooled connection of its own; inside
    a transaction (the tests') one after the other, as they share its connection."""
    if get_engine().current_transaction.get() is None:
        return await asyncio.gather(first, second)
    try:
        done = await first
    except BaseException:
        second.close()
        raise
    return done, await second


async def on_app_startup(_app: object) -> None:
    await open_pool()


async def on_app_shutdown(_app: object) -> None:
    await close_pool()


async def migrate() -> list[str]:
    """Apply every pending migration; returns what piccolo reported, line by line.

    An advisory lock makes concurrent callers wait for each other instead of
    racing to create the same tables.
    """
    from piccolo.apps.migrations.commands.forwards import run_forwards

    engine = get_engine()
    output = io.StringIO()
    connection = await engine.get_new_connection()
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        with contextlib.redirect_stdout(output):
            result = await run_forwards(app_name="all")
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    finally:
        await connection.close()
    lines = [line for line in output.getvalue().splitlines() if line.strip()]
    if not result.success:
        raise RuntimeError(result.message or "migrations failed")
    return lines


async def database_is_reachable() -> bool:
    try:
        await get_engine().run_ddl("SELECT 1")
    except Exception as error:  # any failure means "not reachable"
        log.warning("database unreachable: %s", error)
        return False
    return True


@asynccontextmanager
async def atomic() -> AsyncIterator[None]:
    """One transaction; inside a caller's transaction a savepoint, because piccolo's
    nested transaction is a no-op and a failure must still leave nothing behind."""
    engine = get_engine()
    outer = engine.current_transaction.get()
    if outer is None:
        async with engine.transaction():
            yield
        return
    savepoint = await outer.savepoint()
    try:
        yield
    except BaseException:
        await savepoint.rollback_to()
        raise
    await savepoint.release()


async def stream_rows(sql: str, params: list[Any], prefetch: int = 200) -> AsyncIterator[Any]:
    """Rows of a query one by one through a server-side cursor, so an export of any
    size holds a few hundred rows in memory. `sql` uses piccolo's `{}` placeholders;
    it is planned for its values, like `fetch_custom_planned`."""
    query, args = QueryString(sql, *params).compile_string(engine_type="postgres")
    outer = get_engine().current_transaction.get()
    if outer is not None:  # the caller's transaction (and the tests') must see its rows
        async for row in outer.connection.cursor(query, *args, prefetch=prefetch):
            yield row
        return
    assert _custom_plan_pool is not None, "the connection pool is not open"
    async with _custom_plan_pool.acquire() as connection, connection.transaction():
        async for row in connection.cursor(query, *args, prefetch=prefetch):
            yield row
