"""`iportal outbox`, the operator's view: the e-mails, the addresses with a delivery
problem and the bounces received; `--clear ADDRESS` lifts a problem."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from iportal.notifications import services
from iportal.notifications.bounces import RecipientStatus, record_report
from iportal.notifications.problems import delivery_problem
from tests.conftest import TEST_SECRET_KEY

ADDRESS = "bounced@operator-view.example"


@pytest.fixture
async def bounced(database: str) -> AsyncIterator[int]:
    """A message whose bounce came back, committed for the command to see."""
    outbox_id = await services.queue_email("mail_check", ADDRESS, "en", {"base_url": "http://x"})
    status = RecipientStatus("failed", "5.1.1", ADDRESS, "smtp; 550 5.1.1 User unknown")
    assert await record_report(outbox_id, [status])
    yield outbox_id
    connection = await asyncpg.connect(database)
    try:
        await connection.execute("DELETE FROM delivery_problem WHERE email = $1", ADDRESS)
        await connection.execute("DELETE FROM outbox_email WHERE id = $1", outbox_id)
    finally:
        await connection.close()


def outbox_command(database: str, data_dir: Path, *args: str) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "IPORTAL_DATA_DIR": str(data_dir),
        "IPORTAL_SECRET_KEY": TEST_SECRET_KEY,
        "COLUMNS": "220",
    }
    done = subprocess.run(
        [sys.executable, "-m", "iportal", "outbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_operator_sees_problems_and_bounces_and_clears_one(
    database: str, bounced: int, tmp_path: Path
) -> None:
    shown = outbox_command(database, tmp_path)
    problems = shown.split("Delivery problems", 1)[1].split("Bounces", 1)[0]
    assert ADDRESS in problems and "bounced" in problems
    bounces = shown.split("Bounces", 1)[1]
    assert str(bounced) in bounces and "5.1.1 permanent" in bounces
    cleared = outbox_command(database, tmp_path, "--clear", ADDRESS.upper())
    assert f"{ADDRESS.upper()}: problem cleared, 1 e-mail(s) queued again" in cleared
    assert await delivery_problem(ADDRESS) is None
    row: Any = await services.outbox_overview(500)
    assert next(r for r in row if r.id == bounced).state == "pending"
