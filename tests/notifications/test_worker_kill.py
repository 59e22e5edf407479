"""A real `iportal worker` killed with SIGKILL in the middle of a batch: after a restart
every message is sent, none is lost, and the one the server had taken when the worker
died comes again under the same Message-ID, so that it is recognised as a duplicate."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from iportal.notifications import services
from iportal.notifications.services import LEASE
from tests.conftest import TEST_SECRET_KEY, free_port

COUNT = 30
KILL_AT = 10
DOMAIN = "killed-worker.example"


class KillingServer:
    """Takes each message a little slowly; on the `KILL_AT`th, kills the worker after
    taking it and before answering, as a crash right after the server's 250 would."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (To, Message-ID)
        self.worker_pid: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.received.append((str(message["To"]), str(message["Message-ID"])))
        if len(self.received) == KILL_AT and self.worker_pid is not None:
            os.kill(self.worker_pid, signal.SIGKILL)
        await asyncio.sleep(0.02)
        return "250 OK"


@pytest.fixture
async def queued(database: str) -> AsyncIterator[list[int]]:
    """`COUNT` messages, committed (the worker is another process); removed afterwards."""
    ids = [
        await services.queue_email(
            "mail_check", f"reader{n:02d}@{DOMAIN}", "en", {"base_url": "http://x"}
        )
        for n in range(COUNT)
    ]
    yield ids
    connection = await asyncpg.connect(database)
    try:
        await connection.execute("DELETE FROM outbox_email WHERE id = ANY($1::bigint[])", ids)
    finally:
        await connection.close()


def start_worker(database: str, smtp_port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "IPORTAL_DATA_DIR": str(data_dir),
        "IPORTAL_SECRET_KEY": TEST_SECRET_KEY,
        "IPORTAL_SMTP_PORT": str(smtp_port),
    }
    env.pop("IPORTAL_BOUNCE_LISTEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "iportal", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def states(database: str, ids: list[int]) -> dict[str, int]:
    connection = await asyncpg.connect(database)
    try:
        rows = await connection.fetch(
            "SELECT state, count(*) FROM outbox_email WHERE id = ANY($1::bigint[]) GROUP BY 1",
            ids,
        )
    finally:
        await connection.close()
    return {row["state"]: row["count"] for row in rows}


async def test_a_worker_killed_mid_batch_sends_everything_once_after_a_restart(
    database: str, queued: list[int], tmp_path: Path
) -> None:
    server, port = KillingServer(), free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        first = start_worker(database, port, tmp_path)
        server.worker_pid = first.pid
        assert await asyncio.to_thread(first.wait, 60) == -signal.SIGKILL
        server.worker_pid = None
        before = await states(database, queued)
        assert before["sent"] == KILL_AT - 1  # the tenth was taken, but not marked
        assert before["pending"] == COUNT - KILL_AT + 1
        # The killed worker's lease runs out (the clock of another process cannot be
        # moved: its claims are aged by the lease instead of waiting five minutes).
        connection = await asyncpg.connect(database)
        try:
            await connection.execute(
                "UPDATE outbox_email SET next_attempt_at = next_attempt_at - $2::interval "
                "WHERE id = ANY($1::bigint[]) AND state = 'pending'",
                queued,
                LEASE,
            )
        finally:
            await connection.close()
        second = start_worker(database, port, tmp_path)
        try:
            for _ in range(600):
                if await states(database, queued) == {"sent": COUNT}:
                    break
                await asyncio.sleep(0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0
    finally:
        controller.stop()
    assert await states(database, queued) == {"sent": COUNT}
    recipients = [to for to, _ in server.received]
    assert sorted(set(recipients)) == [f"reader{n:02d}@{DOMAIN}" for n in range(COUNT)]
    # Exactly one message came twice: the one in flight, with its Message-ID unchanged.
    assert len(server.received) == COUNT + 1
    twice = [pair for pair in set(server.received) if server.received.count(pair) == 2]
    assert twice == [server.received[KILL_AT - 1]]
    assert len({message_id for _, message_id in server.received}) == COUNT
