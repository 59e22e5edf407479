"""`iportal worker` with `IPORTAL_BOUNCE_LISTEN`: the real process sends a message with
its return path and takes the bounce for it on its listener; a listener address it
cannot have stops it with one line, not a traceback."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import asyncpg
import pytest

from iportal.notifications import services
from tests.conftest import TEST_SECRET_KEY, Mailbox, free_port
from tests.notifications.test_bounces import report

ADDRESS = "listened@worker-listener.example"


def worker_env(database: str, data_dir: Path, smtp_port: int, listen: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database,
        "IPORTAL_DATA_DIR": str(data_dir),
        "IPORTAL_SECRET_KEY": TEST_SECRET_KEY,
        "IPORTAL_SMTP_PORT": str(smtp_port),
        "IPORTAL_BOUNCE_LISTEN": listen,
    }


@pytest.fixture
async def queued(database: str) -> AsyncIterator[int]:
    outbox_id = await services.queue_email("mail_check", ADDRESS, "en", {"base_url": "http://x"})
    yield outbox_id
    connection = await asyncpg.connect(database)
    try:
        await connection.execute("DELETE FROM delivery_problem WHERE email = $1", ADDRESS)
        await connection.execute("DELETE FROM outbox_email WHERE id = $1", outbox_id)
    finally:
        await connection.close()


async def state_of(database: str, outbox_id: int) -> str:
    connection = await asyncpg.connect(database)
    try:
        return str(
            await connection.fetchval("SELECT state FROM outbox_email WHERE id = $1", outbox_id)
        )
    finally:
        await connection.close()


async def wait_for(database: str, outbox_id: int, state: str) -> None:
    for _ in range(300):
        if await state_of(database, outbox_id) == state:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"outbox {outbox_id} never became {state}")


async def test_the_worker_takes_the_bounce_of_what_it_sent(
    database: str, queued: int, tmp_path: Path, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, smtp_port = smtp_server
    listen_port = free_port()
    env = worker_env(database, tmp_path, smtp_port, f"127.0.0.1:{listen_port}")
    worker = subprocess.Popen(
        [sys.executable, "-m", "iportal", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_for(database, queued, "sent")
        return_address = mailbox.sender_of(mailbox.to(ADDRESS)[-1])
        assert return_address.startswith(f"bounce+{queued}-")
        await aiosmtplib.send(
            report(return_address, ADDRESS, "5.1.1"),
            sender="MAILER-DAEMON@mx.example",
            recipients=[return_address],
            hostname="127.0.0.1",
            port=listen_port,
        )
        await wait_for(database, queued, "failed")
    finally:
        worker.terminate()
        assert await asyncio.to_thread(worker.wait, 30) == 0


def test_a_listener_address_that_is_taken_stops_the_worker_with_a_clear_line(
    database: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "iportal", "worker"],
            env=worker_env(database, tmp_path, free_port(), f"127.0.0.1:{port}"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]  # after the log's lines, one for the person
    assert last.startswith(f"iportal: IPORTAL_BOUNCE_LISTEN: cannot listen on 127.0.0.1:{port}")
