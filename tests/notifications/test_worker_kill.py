"""A real `iportal worker` killed with SIGKILL in the middle of a batch, five times in a
row: after each restart every message is sent, none is lost, and the one the server had
taken when the worker died comes again under the same Message-ID, so that it is
recognised as a duplicate: one duplicate per kill at most."""

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

COUNT = 40
# The worker is killed when the server has taken this many messages (duplicates too).
KILLS = (6, 12, 18, 24, 30)
DOMAIN = "killed-worker.example"


class KillingServer:
    """Takes each message a little slowly; at each of `KILLS`, kills the worker after
    taking the message and before answering, as a crash right after the server's 250
    would."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (To, Message-ID)
        self.worker_pid: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.received.append((str(message["To"]), str(message["Message-ID"])))
        if len(self.received) in KILLS and self.worker_pid is not None:
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


async def lease_runs_out(database: str, ids: list[int]) -> None:
    """The killed worker's lease runs out (the clock of another process cannot be
    moved: its claims are aged by the lease instead of waiting five minutes)."""
    connection = await asyncpg.connect(database)
    try:
        await connection.execute(
            "UPDATE outbox_email SET next_attempt_at = next_attempt_at - $2::interval "
            "WHERE id = ANY($1::bigint[]) AND state = 'pending'",
            ids,
            LEASE,
        )
    finally:
        await connection.close()


async def test_a_worker_killed_five_times_mid_batch_sends_everything_once_after_restarts(
    database: str, queued: list[int], tmp_path: Path
) -> None:
    server, port = KillingServer(), free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    in_flight: list[tuple[str, str]] = []
    try:
        for kill in KILLS:
            worker = start_worker(database, port, tmp_path)
            server.worker_pid = worker.pid
            assert await asyncio.to_thread(worker.wait, 60) == -signal.SIGKILL
            server.worker_pid = None
            assert len(server.received) == kill
            in_flight.append(server.received[-1])
            # What the server answered is marked; the one it had taken when the worker
            # died is not, and waits (with the rest) for the lease to run out.
            marked = len(set(server.received)) - 1
            assert await states(database, queued) == {"sent": marked, "pending": COUNT - marked}
            await lease_runs_out(database, queued)
        last = start_worker(database, port, tmp_path)
        try:
            for _ in range(600):
                if await states(database, queued) == {"sent": COUNT}:
                    break
                await asyncio.sleep(0.1)
        finally:
            last.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(last.wait, 30) == 0
    finally:
        controller.stop()
    assert await states(database, queued) == {"sent": COUNT}
    recipients = [to for to, _ in server.received]
    assert sorted(set(recipients)) == [f"reader{n:02d}@{DOMAIN}" for n in range(COUNT)]
    # Nothing lost, at most one duplicate per kill: here exactly the five in flight,
    # each come again with its Message-ID unchanged.
    assert len(server.received) <= COUNT + len(KILLS)
    twice = sorted(pair for pair in set(server.received) if server.received.count(pair) == 2)
    assert twice == sorted(in_flight) and len(set(in_flight)) == len(KILLS)
    assert max(server.received.count(pair) for pair in server.received) == 2
    assert len({message_id for _, message_id in server.received}) == COUNT
    assert len(server.received) == COUNT + len(KILLS)
