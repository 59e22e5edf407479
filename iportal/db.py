"""The database: an embedded PostgreSQL in the data folder, or `DATABASE_URL`, and the
one query API every statement written in SQL goes through.

The API (`fetch`, `fetchrow`, `fetchval`, `execute`, `stream`, `transaction`,
`connection`, `together`) takes asyncpg's `$1, $2, …` placeholders and runs on the
caller's transaction when there is one, so that a service's statements and piccolo's
query builder see each other's rows (and a test's rolled-back transaction sees
everything). Outside a transaction each call borrows a pooled connection.

Piccolo finds its engine through `PICCOLO_CONF`, which points here: `DB` is
built on first use (module `__getattr__`), so importing a table never starts a
database, and the piccolo CLI, `serve`, `worker` and the tests share one path.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import os
import socket
import tempfile
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from asyncpg import Record as Record  # the rows the query API returns
from piccolo.engine.postgres import PostgresEngine

from iportal.settings import Settings, get_settings

log = logging.getLogger(__name__)
A = TypeVar("A")
B = TypeVar("B")

os.environ.setdefault("PICCOLO_CONF", "iportal.db")

APPS = [
    "iportal.accounts.piccolo_app",
    "iportal.documents.piccolo_app",
    "iportal.sharing.piccolo_app",
    "iportal.notifications.piccolo_app",
]

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
    if name == "APP_REGISTRY":
        return app_registry()
    raise AttributeError(name)


@functools.cache
def app_registry() -> Any:
    """The domain apps, for `migrate` and the piccolo CLI. piccolo's registry module
    loads its migration machinery (~0.1 s), which no other command needs."""
    from piccolo.conf.apps import AppRegistry

    return AppRegistry(apps=APPS)


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
    engine = get_engine()
    if engine.pool is not None:  # piccolo warns on stderr about closing no pool
        await engine.close_connection_pool()
    if _custom_plan_pool is not None:
        await _custom_plan_pool.close()
        _custom_plan_pool = None


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


# --- what a failure means ----------------------------------------------------------
# The web layer answers these as the caller's mistake or as "try again later" instead of
# a 500; they are named here, beside the one door to the database.

_DATABASE_GONE = (
    asyncpg.PostgresConnectionError,  # refused, or lost in the middle of a statement
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)
_NETWORK_FAILURES = (ConnectionError, socket.gaierror, TimeoutError)


def is_unreachable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached right now (down, restarting,
    full, the network gone), rather than that a statement failed. A socket error
    counts only when the driver raised it: a web request opens no other connection,
    but the sandbox's pipes raise `ConnectionError` too."""
    if isinstance(error, _DATABASE_GONE):
        return True
    return isinstance(error, _NETWORK_FAILURES) and _raised_by_the_driver(error)


def _raised_by_the_driver(error: BaseException) -> bool:
    return any(
        frame.f_globals.get("__name__", "").startswith(("asyncpg", "piccolo.engine"))
        for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def is_unstorable_text(error: BaseException) -> bool:
    """PostgreSQL refused a text value: a NUL, or a character its encoding lacks."""
    return isinstance(
        error, asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError
    ) or (isinstance(error, asyncpg.DataError) and isinstance(error.__cause__, UnicodeError))


def is_out_of_range(error: BaseException) -> bool:
    """A number too large for its column's type, refused by PostgreSQL or, before the
    statement was sent, by asyncpg ("value out of int32 range")."""
    return isinstance(error, asyncpg.NumericValueOutOfRangeError) or (
        isinstance(error, asyncpg.DataError) and isinstance(error.__cause__, OverflowError)
    )


async def database_is_reachable() -> bool:
    try:
        await fetchval("SELECT 1")
    except Exception as error:  # any failure means "not reachable"
        log.warning("database unreachable: %s", error)
        return False
    return True


# --- the query API ---------------------------------------------------------------


class Statement:
    """SQL written piece by piece, each value bound as the next `$n`:
    `s.add(f"AND v.type = {s.bind(kind)}")`."""

    __slots__ = ("args", "parts")

    def __init__(self, text: str = "") -> None:
        self.parts: list[str] = [text] if text else []
        self.args: list[Any] = []

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, text: str) -> Statement:
        self.parts.append(text)
        return self

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def _outer() -> asyncpg.Connection | None:
    """The connection of the caller's transaction, if one is open."""
    transaction = get_engine().current_transaction.get()
    return None if transaction is None else transaction.connection


def in_transaction() -> bool:
    """Whether the caller has a transaction open (whose one connection runs one
    statement at a time)."""
    return _outer() is not None


@asynccontextmanager
async def connection(*, custom_plan: bool = False) -> AsyncIterator[asyncpg.Connection]:
    """One connection for a few statements in a row (each commits on its own unless the
    caller opened a transaction): the caller's transaction's, else one borrowed from the
    pool once for all of them. `custom_plan` borrows from the pool whose sessions plan
    every statement for its values (see `fetch`)."""
    outer = _outer()
    if outer is not None:
        yield outer
        return
    pool = _custom_plan_pool if custom_plan else get_engine().pool
    if pool is None:  # a command that opened no pool: one connection of its own
        single: asyncpg.Connection = await get_engine().get_new_connection()
        try:
            yield single
        finally:
            await single.close()
        return
    async with pool.acquire() as pooled:
        yield pooled


async def fetch(sql: str, *args: Any, custom_plan: bool = False) -> list[Record]:
    """Every row of a statement.

    `custom_plan=True` is for statements whose best plan depends on their values (the
    document list, whose plan depends on the reader's numbers and filters): a generic
    plan, which PostgreSQL may pick for a statement prepared once and run often, can be
    many times slower. Every other statement keeps its plan per session: re-planning
    the session and visibility look-ups would cost more than running them.
    """
    async with connection(custom_plan=custom_plan) as db:
        rows: list[Record] = await db.fetch(sql, *args)
    return rows


async def fetchrow(sql: str, *args: Any) -> Record | None:
    """The first row of a statement, or None."""
    async with connection() as db:
        row: Record | None = await db.fetchrow(sql, *args)
    return row


async def fetchval(sql: str, *args: Any) -> Any:
    """The first column of the first row, or None."""
    async with connection() as db:
        return await db.fetchval(sql, *args)


async def execute(sql: str, *args: Any) -> str:
    """Run a statement for its effect; returns PostgreSQL's status (`UPDATE 3`)."""
    async with connection() as db:
        status: str = await db.execute(sql, *args)
    return status


async def stream(sql: str, *args: Any, prefetch: int = 200) -> AsyncIterator[Record]:
    """Rows one by one through a server-side cursor, so an export of any size holds a
    few hundred rows in memory; planned for its values, like `fetch(custom_plan=True)`."""
    outer = _outer()
    if outer is not None:
        async for row in outer.cursor(sql, *args, prefetch=prefetch):
            yield row
        return
    async with connection(custom_plan=True) as db, db.transaction():
        async for row in db.cursor(sql, *args, prefetch=prefetch):
            yield row


@asynccontextmanager
async def transaction() -> AsyncIterator[None]:
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
        await savepoint.rollback_to()  # type: ignore[no-untyped-call]  # piccolo's, unannotated
        raise
    await savepoint.release()  # type: ignore[no-untyped-call]


@asynccontextmanager
async def listening(channel: str, heard: Callable[[], None]) -> AsyncIterator[bool]:
    """`heard()` on every NOTIFY on `channel` while inside, on a connection of its own
    (pooled sessions are reset with UNLISTEN); yields False, and hears nothing, when
    the database cannot be reached: the caller polls anyway."""
    try:
        connection: asyncpg.Connection = await get_engine().get_new_connection()
        await connection.add_listener(channel, lambda *_: heard())
    except (OSError, asyncpg.PostgresError) as error:
        log.warning("not listening on %s: %s", channel, error)
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await connection.close(timeout=5)


async def together(first: Coroutine[Any, Any, A], second: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Two independent reads at once, each on a pooled connection of its own; inside
    a transaction (the tests') one after the other, as they share its connection."""
    if _outer() is None:
        both: tuple[A, B] = await asyncio.gather(first, second)
        return both
    try:
        done = await first
    except BaseException:
        second.close()
        raise
    return done, await second
