"""Debian's Chromium driven by Playwright, as the project's browser tests use it."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import _create_database, _drop_database, free_port

if TYPE_CHECKING:  # tests.demo.test_demo imports this module
    from tests.demo.test_demo import Server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@asynccontextmanager
async def chromium_page(**context_options: Any) -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(**context_options)
            yield await context.new_page()
        finally:
            await browser.close()


@dataclass(frozen=True)
class ServedPortal:
    server: Server
    env: dict[str, str]
    dsn: str


@contextmanager
def served_portal(
    server_dsn: str, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[ServedPortal]:
    """`iportal serve` on a database of its own (which serve migrates), stopped and the
    database dropped afterwards."""
    from tests.demo.test_demo import Server, demo_env, iportal

    database = f"iportal_{name}_{os.getpid()}"
    dsn = asyncio.run(_create_database(server_dsn, database))
    port = free_port()
    env = demo_env(tmp_path_factory.mktemp(name) / "var", database_url=dsn)
    server = Server(iportal("serve", "--port", str(port)), env, port)
    try:
        server.wait_until_up()  # serve migrates first
        yield ServedPortal(server, env, dsn)
    finally:
        server.stop()
        asyncio.run(_drop_database(server_dsn, database))


def create_issuer(env: dict[str, str], prefix: str, name: str) -> str:
    """A new issuer through the command line; its API key."""
    from tests.demo.test_demo import iportal

    created = subprocess.run(
        iportal("issuer", "create", prefix, name),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]
