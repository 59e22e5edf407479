"""Test set-up: a real PostgreSQL (DATABASE_URL, else embedded), the schema built once
from the real migrations, every test in a transaction rolled back at its end, and a
real SMTP server (aiosmtpd) whose messages tests can read."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _server_dsn(tmp_root: Path) -> str:
    """The server the tests use: DATABASE_URL when given, else an embedded PostgreSQL."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from iportal.db import embedded_dsn

    return embedded_dsn(Path(tempfile.gettempdir()) / f"iportal-test-pg-{os.getuid()}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _create_database(server_dsn: str, name: str) -> str:
    connection = await asyncpg.connect(_with_database(server_dsn, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return _with_database(server_dsn, name)


async def _drop_database(server_dsn: str, name: str) -> None:
    connection = await asyncpg.connect(_with_database(server_dsn, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="iportal-tests-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def server_dsn(tmp_root: Path) -> str:
    return _server_dsn(tmp_root)


@pytest.fixture(scope="session")
async def database(server_dsn: str, tmp_root: Path) -> AsyncIterator[str]:
    """A fresh database for this run, migrated once with the real migrations."""
    name = f"iportal_test_{os.getpid()}"
    dsn = await _create_database(server_dsn, name)
    os.environ.update(
        DATABASE_URL=dsn,
        IPORTAL_DATA_DIR=str(tmp_root / "data"),
        IPORTAL_SECRET_KEY=TEST_SECRET_KEY,
    )
    from iportal import db
    from iportal.settings import get_settings

    get_settings.cache_clear()
    await db.migrate()
    await db.open_pool(max_size=8)
    yield dsn
    await db.close_pool()
    await _drop_database(server_dsn, name)


@pytest.fixture
async def transaction(database: str) -> AsyncIterator[Any]:
    """Everything the test (and the app it drives) writes is rolled back afterwards."""
    from iportal.db import get_engine

    async with get_engine().transaction() as transaction:
        yield transaction
        await transaction.rollback()


class Mailbox:
    """What the test SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        # Each message with its envelope sender (MAIL FROM).
        self.envelopes: list[tuple[EmailMessage, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parser = BytesParser(policy=policy.default)
        message = parser.parsebytes(envelope.original_content or envelope.content)
        self.messages.append(message)
        self.envelopes.append((message, envelope.mail_from))
        return "250 OK"

    def sender_of(self, message: EmailMessage) -> str:
        """The envelope sender the message came with (where its bounces go)."""
        return next(sender for received, sender in self.envelopes if received is message)

    def clear(self) -> None:
        self.messages.clear()
        self.envelopes.clear()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int]) -> Mailbox:
    mailbox, _ = smtp_server
    mailbox.clear()
    return mailbox


@pytest.fixture
def settings(tmp_root: Path, smtp_server: tuple[Mailbox, int], database: str) -> Any:
    from iportal.settings import read_settings

    _, port = smtp_server
    return read_settings(
        {
            "DATABASE_URL": database,
            "IPORTAL_DATA_DIR": str(tmp_root / "data"),
            "IPORTAL_SECRET_KEY": TEST_SECRET_KEY,
            "IPORTAL_SMTP_PORT": str(port),
        }
    )


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """One pool of sandboxed workers for the whole run (they take a while to start)."""
    from iportal.documents.sandbox import Sandbox

    with Sandbox(jobs=2) as pool:
        yield pool


@pytest.fixture
async def client(settings: Any, transaction: Any, sandbox: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app driven in this event loop, inside the test's transaction."""
    from iportal.app import create_app

    app = create_app(settings, manage_pool=False)
    app.state.sandbox = sandbox
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser tests leave screenshots for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def random_suffix() -> str:
    return secrets.token_hex(4)
