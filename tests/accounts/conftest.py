"""A throw-away database for the `iportal` commands, which open their own pool and
commit: migrated with `iportal migrate`, with the issuers DL2 and DL5."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY, _create_database, _drop_database


@dataclass(frozen=True)
class Cli:
    """Runs `iportal` in a subprocess against the throw-away database."""

    env: dict[str, str]
    dsn: str

    def __call__(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iportal", *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="session")
def cli(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    name = f"iportal_cli_{os.getpid()}"
    dsn = asyncio.run(_create_database(server_dsn, name))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_") and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=dsn,
        IPORTAL_DATA_DIR=str(tmp_path_factory.mktemp("cli") / "var"),
        IPORTAL_SECRET_KEY=TEST_SECRET_KEY,
        COLUMNS="200",  # rich tables as wide as a terminal, so reasons stay on one line
    )
    run = Cli(env, dsn)
    try:
        for args in (("migrate",), ("issuer", "create", "DL2", "Lease Services NV")):
            done = run(*args)
            assert done.returncode == 0, done.stderr
        assert run("issuer", "create", "DL5", "Lease Belgium NV").returncode == 0
        yield run
    finally:
        asyncio.run(_drop_database(server_dsn, name))
