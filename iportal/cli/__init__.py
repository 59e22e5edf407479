"""The `iportal` command: serve, worker, migrate, demo and the issuer's tools.

Bad configuration or input is one line naming what is wrong and exit status 2;
never a traceback.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import click

from iportal import __version__
from iportal.errors import DomainError
from iportal.logs import configure_logging
from iportal.settings import Settings, SettingsError, get_settings

T = TypeVar("T")


def load_settings() -> Settings:
    try:
        settings = get_settings()
    except SettingsError as error:
        click.echo(f"iportal: {error}", err=True)
        sys.exit(2)
    configure_logging(settings.log_level, settings.log_format)
    return settings


def run(coroutine_function: Callable[[], Awaitable[T]]) -> T:
    """Run one async command. A database that cannot be reached is one line and exit
    status 1; a domain error (bad input, unknown issuer…) is its message and status 2."""
    try:
        return asyncio.run(coroutine_function())  # type: ignore[arg-type]
    except DomainError as error:
        click.echo(f"iportal: {error.translated()}", err=True)
        sys.exit(2)
    except (
        OSError,
        ConnectionError,
        asyncpg.PostgresConnectionError,
        asyncpg.InvalidCatalogNameError,
        asyncpg.InvalidAuthorizationSpecificationError,
    ) as error:
        click.echo(f"iportal: cannot reach the database: {error}", err=True)
        sys.exit(1)


def run_with_pool(coroutine_function: Callable[[], Awaitable[T]], max_size: int = 4) -> T:
    """`run`, with the database's connection pool open around the command."""
    from iportal import db

    async def with_pool() -> T:
        await db.open_pool(max_size=max_size)
        try:
            return await coroutine_function()
        finally:
            await db.close_pool()

    return run(with_pool)


async def migrate_now() -> list[str]:
    from iportal import db

    try:
        return await db.migrate()
    finally:
        await db.close_pool()


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="iportal")
def main() -> None:
    """iportal: publish invoices and credit notes; clients and accountants read them."""


# Each module adds its commands to `main` when imported.
from iportal.cli import _client_numbers, _documents, _issuers, _server  # noqa: E402, F401
