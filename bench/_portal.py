"""What the documents and export benchmarks share: a database of their own on a
PostgreSQL server, `iportal migrate`, a real `iportal serve` subprocess, and the
statistics and tables they print."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg
import httpx

IPORTAL = str(Path(sys.executable).parent / "iportal")
SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-portal-2026"  # the benchmark users' password


def database_url(server_dsn: str, name: str) -> str:
    return urlsplit(server_dsn)._replace(path=f"/{name}").geturl()


async def _on_server(server_dsn: str, statement: str) -> str | None:
    connection = await asyncpg.connect(server_dsn)
    try:
        value = await connection.fetchval(statement)
        return None if value is None else str(value)
    finally:
        await connection.close()


async def create_database(server_dsn: str, name: str) -> str:
    await _on_server(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _on_server(server_dsn, f'CREATE DATABASE "{name}"')
    return database_url(server_dsn, name)


async def drop_database(server_dsn: str, name: str) -> None:
    await _on_server(server_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def database_comment(server_dsn: str, name: str) -> str | None:
    """The comment a finished load leaves on its database (None: absent or unfinished)."""
    return await _on_server(
        server_dsn,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        f"WHERE datname = '{name}'",
    )


def portal_env(database: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_")}
    env.update(DATABASE_URL=database, IPORTAL_DATA_DIR=str(data_dir))
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([IPORTAL, "migrate"], env=env, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`iportal serve` in a subprocess, up once /healthz answers; stopped with SIGINT."""

    def __init__(self, env: dict[str, str]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [IPORTAL, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("iportal serve stopped:\n" + "".join(self.lines))
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("iportal serve did not come up:\n" + "".join(self.lines))

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def log_in(client: httpx.Client, username: str) -> None:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()


class KeepAlive:
    """A plain HTTP/1.1 client on one kept-alive socket: what a request costs the
    portal, with ~0.05 ms of client on top instead of ~1 ms of httpx on these cores."""

    def __init__(self, url: str, cookies: dict[str, str]) -> None:
        host, _, port = urlsplit(url).netloc.partition(":")
        self.socket = socket.create_connection((host, int(port)))
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
        self.head = f"Host: {host}\r\nCookie: {cookie}\r\n\r\n"

    def get(self, path: str, params: dict[str, str | None] | None = None) -> tuple[int, bytes]:
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        target = f"{path}?{query}" if query else path
        self.socket.sendall(f"GET {target} HTTP/1.1\r\n{self.head}".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.socket.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":")[1]) for line in lines
                      if line.lower().startswith("content-length:"))
        while len(body) < length:
            body += self.socket.recv(65536)
        return int(lines[0].split()[1]), body

    def json(self, path: str, params: dict[str, str | None] | None = None) -> Any:
        status, body = self.get(path, params)
        if status != 200:
            raise RuntimeError(f"GET {path} {params}: {status} {body[:200]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.socket.close()


def median_p95(samples: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile (inclusive method) of timings in seconds, in ms."""
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[-1]
    return statistics.median(samples) * 1000, p95 * 1000


def machine_load() -> str:
    """How busy the machine is: other processes share these two cores."""
    text = f"load average {os.getloadavg()[0]:.1f}"
    pressure = Path("/proc/pressure/cpu")
    if pressure.exists():  # the share of time something was waiting for a CPU
        some = pressure.read_text().split()[2].partition("=")[2]
        text += f", CPU pressure {float(some):.0f} % (avg60)"
    return text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
