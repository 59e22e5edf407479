"""An idle worker is woken by the database when an e-mail is queued or a document
published (NOTIFY from the tables' triggers, at commit), instead of its next poll."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from iportal.notifications import services, worker
from tests.conftest import Mailbox

ADDRESS = "woken@wake.example"


async def test_a_queued_email_wakes_the_idle_worker_at_once(
    database: str, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polls so rare that only being woken can send the message within the test.
    monkeypatch.setattr(worker, "IDLE_SECONDS", 60.0)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_worker(settings, stop))
    queued: list[int] = []
    try:
        await asyncio.sleep(0.5)  # past its first, empty round: now waiting
        started = time.monotonic()
        queued.append(
            await services.queue_email("mail_check", ADDRESS, "en", {"base_url": "http://x"})
        )
        while not mailbox.to(ADDRESS) and time.monotonic() - started < 10:
            await asyncio.sleep(0.02)
        waited = time.monotonic() - started
    finally:
        stop.set()
        await running
        connection = await asyncpg.connect(database)
        try:
            await connection.execute(
                "DELETE FROM outbox_email WHERE id = ANY($1::bigint[])", queued
            )
        finally:
            await connection.close()
    assert len(mailbox.to(ADDRESS)) == 1
    assert waited < 5, waited


async def test_the_triggers_notify_the_worker_channel_at_commit(database: str) -> None:
    listener, writer = await asyncpg.connect(database), await asyncpg.connect(database)
    heard: list[str] = []
    try:
        await listener.add_listener(worker.WAKE_CHANNEL, lambda *args: heard.append(args[2]))
        async with writer.transaction():
            await writer.execute(
                "INSERT INTO outbox_email (recipient, language, template, subject, body_text, "
                "body_html, list_unsubscribe, state, attempts, last_error, next_attempt_at, "
                "created_at) VALUES ('x@wake.example', 'en', 't', 's', 'b', '', '', 'sent', 0, "
                "'', now(), now())"
            )
            await asyncio.sleep(0.2)
            assert heard == []  # nothing before the commit
        for _ in range(50):
            if heard:
                break
            await asyncio.sleep(0.02)
        assert heard == [worker.WAKE_CHANNEL]
    finally:
        await writer.execute("DELETE FROM outbox_email WHERE recipient = 'x@wake.example'")
        await listener.close()
        await writer.close()
