"""One connection for a few statements in a row, for the hot paths (logins, throttling)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from iportal.db import get_engine


@asynccontextmanager
async def one_connection() -> AsyncIterator[Any]:
    """An asyncpg connection whose statements each commit on their own: the caller's
    transaction's if there is one (the tests'), else one from the pool, acquired and
    released once for all of them."""
    engine = get_engine()
    outer = engine.current_transaction.get()
    if outer is not None:
        yield outer.connection
        return
    assert engine.pool is not None, "the connection pool is not open"
    async with engine.pool.acquire() as pooled:
        yield pooled
