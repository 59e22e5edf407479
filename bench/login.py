"""Logins per second through the HTTP API, against the floor of bare argon2.

    .venv/bin/python bench/login.py [--logins 300] [--rounds 3] [--clients 20] [--server-dsn URL]

A real `iportal serve` on a database of its own (dropped afterwards) with one user
per login, all with the same password hash (argon2id, the portal's parameters).
20 concurrent clients (keep-alive HTTP/1.1 on asyncio streams) log in through
`POST /api/v1/auth/login`, each from its own loopback address (127.0.0.x) and each
user once, so that the throttle (10 failures per 15 minutes per account and per
address, successes withdrawn) never answers for the portal: every answer must be a
200 with that user's profile and a session cookie, or the run says so.
Meanwhile `/healthz` is polled every 50 ms: its latency shows whether the event
loop was ever blocked.

The floor is argon2 alone with the same parameters on the same cores, in the same
run: a process pool of os.cpu_count() workers doing PASSWORD_HASHER.verify.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from _portal import Server

from iportal.security import PASSWORD_HASHER

IPORTAL = str(Path(sys.executable).parent / "iportal")
PASSWORD = "bench-login-2026-passphrase"
DATABASE = "iportal_bench_login"
TARGET = 0.70
HEALTH_P95_MS = 50.0


async def _admin(server_dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(server_dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _add_users(dsn: str, count: int, password_hash: str) -> list[str]:
    emails = [f"bench-{n:05d}@example.test" for n in range(count)]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO portal_user (email, first_name, password_hash) VALUES ($1, 'Bench', $2)",
            [(email, password_hash) for email in emails],
        )
    finally:
        await connection.close()
    return emails


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_seconds() -> float:
    """CPU time of the PostgreSQL backends serving the benchmark's database (their
    process title names it); 0 when the server runs elsewhere or as another user."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if DATABASE.encode() in (entry / "cmdline").read_bytes():
                total += cpu_seconds(int(entry.name))
        except OSError:  # gone in the meantime, or not ours to read
            continue
    return total


def machine_busy_seconds() -> float:
    """CPU time every core spent busy so far, all processes (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(seconds: float) -> bool:
    """Wait up to `seconds` for the (shared) machine to be idle: under 15 % busy over
    two seconds. False when it stayed busy, and this round shares it."""
    deadline = time.monotonic() + seconds
    while True:
        before = machine_busy_seconds()
        time.sleep(2)
        busy = (machine_busy_seconds() - before) / (2 * (os.cpu_count() or 1))
        if busy < 0.15:
            return True
        if time.monotonic() > deadline:
            return False


def _verify(password_hash: str) -> None:
    PASSWORD_HASHER.verify(password_hash, PASSWORD)


def argon2_floor(password_hash: str, count: int) -> float:
    """Bare verifications per second on every core (a process per core)."""
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_verify, [password_hash] * workers))  # start the workers first
        started = time.perf_counter()
        list(pool.map(_verify, [password_hash] * count, chunksize=4))
        return count / (time.perf_counter() - started)


class Client:
    """One keep-alive HTTP/1.1 connection from its own loopback address, written and
    read with asyncio streams: httpx costs ~3 ms of CPU per login, on the same cores
    as the server, and that would be measured as the portal's."""

    def __init__(self, url: str, address: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.address = parts.hostname or "", parts.port or 80, address
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes, bytes]:
        """(status, raw headers, body): the body read by its Content-Length."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(self.address, 0)
            )
        assert self.reader is not None
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        assert length is not None, head  # every answer here has a Content-Length
        content = await self.reader.readexactly(int(length[1]))
        return int(head.split(b" ", 2)[1]), head, content

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _log_in(
    http: Client, users: list[str], statuses: list[int], latencies: list[float]
) -> None:
    """Each user logs in as a fresh visitor (no cookie sent); a 200 counts only with
    the user's own profile and a session cookie."""
    for email in users:
        body = json.dumps({"username": email, "password": PASSWORD}).encode()
        started = time.perf_counter()
        status, head, content = await http.request("POST", "/api/v1/auth/login", body)
        latencies.append(time.perf_counter() - started)
        if status == 200 and (
            json.loads(content)["email"] != email or b"iportal_session=" not in head
        ):
            status = -200  # a 200 that is not this user's login
        statuses.append(status)


async def _poll_health(http: Client, stop: asyncio.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        status, _, _ = await http.request("GET", "/healthz")
        latencies.append(time.perf_counter() - started)
        assert status == 200
        await asyncio.sleep(0.05)


async def burst(
    url: str, users: list[str], clients: int, meter: Callable[[], dict[str, float]]
) -> dict[str, Any]:
    """Every user logs in once, `clients` at a time; /healthz polled meanwhile. The
    clients are made and warmed (one login each) before the clock and meters start."""
    pool = [Client(url, f"127.0.0.{10 + i}") for i in range(clients)]
    health_client = Client(url, "127.0.0.9")
    try:
        warm, measured = users[:clients], users[clients:]
        await asyncio.gather(
            *(_log_in(http, [e], [], []) for http, e in zip(pool, warm, strict=True))
        )
        await health_client.request("GET", "/healthz")
        statuses: list[int] = []
        login_latencies: list[float] = []
        health: list[float] = []
        stop = asyncio.Event()
        before = meter()
        started = time.perf_counter()
        poller = asyncio.create_task(_poll_health(health_client, stop, health))
        await asyncio.gather(
            *(
                _log_in(http, measured[i::clients], statuses, login_latencies)
                for i, http in enumerate(pool)
            )
        )
        elapsed = time.perf_counter() - started
        after = meter()
        stop.set()
        await poller
    finally:
        for http in [*pool, health_client]:
            await http.close()
    return {
        "elapsed": elapsed,
        "statuses": statuses,
        "login_latencies": login_latencies,
        "health": health,
        **{key: after[key] - before[key] for key in after},
    }


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=300, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--idle-wait",
        type=float,
        default=60,
        help="seconds to wait before each round for the machine to be idle (it may be shared)",
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--floor-verifications", type=int, default=150, help="per round")
    parser.add_argument(
        "--server-dsn",
        default=os.environ.get("BENCH_SERVER_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    password_hash = PASSWORD_HASHER.hash(PASSWORD)
    dsn = urlsplit(args.server_dsn)._replace(path=f"/{DATABASE}").geturl()
    asyncio.run(_admin(args.server_dsn, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    asyncio.run(_admin(args.server_dsn, f'CREATE DATABASE "{DATABASE}"'))
    rounds: list[Round] = []
    try:
        with TemporaryDirectory(prefix="iportal-bench-login-") as data_dir:
            env = {k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_")}
            env.update(DATABASE_URL=dsn, IPORTAL_DATA_DIR=data_dir, IPORTAL_LOG_LEVEL="WARNING")
            subprocess.run([IPORTAL, "migrate"], env=env, check=True, capture_output=True)
            per_round = args.logins + args.clients
            users = asyncio.run(_add_users(dsn, per_round * args.rounds, password_hash))
            with Server(env) as server:

                def meter() -> dict[str, float]:
                    return {
                        "server_cpu": cpu_seconds(server.process.pid),
                        "database_cpu": database_cpu_seconds(),
                        "client_cpu": time.process_time(),
                        "busy_cpu": machine_busy_seconds(),
                    }

                # Floor and burst alternate, so that both see the same machine (it is shared).
                for n in range(args.rounds):
                    quiet = wait_for_quiet(args.idle_wait)
                    floor = argon2_floor(password_hash, args.floor_verifications)
                    mine = users[n * per_round : (n + 1) * per_round]
                    result = asyncio.run(burst(server.url, mine, args.clients, meter))
                    rounds.append(Round(floor, result, quiet))
    finally:
        asyncio.run(_admin(args.server_dsn, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    return report(args, rounds)


@dataclass
class Round:
    floor: float
    burst: dict[str, Any]
    quiet: bool  # the machine was idle when the round began

    @property
    def rate(self) -> float:
        return int(self.burst["statuses"].count(200)) / float(self.burst["elapsed"])


def report(args: argparse.Namespace, rounds: list[Round]) -> int:
    statuses = [s for r in rounds for s in r.burst["statuses"]]
    logins = [x for r in rounds for x in r.burst["login_latencies"]]
    health = [x for r in rounds for x in r.burst["health"]]
    others = {s: statuses.count(s) for s in sorted(set(statuses)) if s != 200}
    ratio = statistics.median(r.rate / r.floor for r in rounds)
    health_p95 = _ms(health, 0.95)
    server_cpu, database_cpu, client_cpu, busy_cpu = (
        sum(r.burst[key] for r in rounds)
        for key in ("server_cpu", "database_cpu", "client_cpu", "busy_cpu")
    )

    def per_login(seconds: float) -> float:
        return 1000 * seconds / len(statuses)

    rows = [("cores (os.cpu_count)", f"{os.cpu_count()}")]
    for n, r in enumerate(rounds, 1):
        b = r.burst
        other = b["busy_cpu"] - b["server_cpu"] - b["database_cpu"] - b["client_cpu"]
        rows.append(
            (
                f"round {n}: argon2 floor / logins per second (other CPU per login)",
                f"{r.floor:.1f} / {r.rate:.1f} /s = {r.rate / r.floor:.0%} "
                f"({1000 * other / len(b['statuses']):.0f} ms"
                f"{'' if r.quiet else ', busy machine'})",
            )
        )
    rows += [
        ("logins through the API", f"{statuses.count(200)}, {args.clients} clients at once"),
        ("share of the floor (median of rounds)", f"{ratio:.0%} (target ≥ {TARGET:.0%})"),
        (
            "CPU per login: server (argon2 included) / PostgreSQL / bench clients / other",
            f"{per_login(server_cpu):.0f} / {per_login(database_cpu):.0f} / "
            f"{per_login(client_cpu):.0f} / "
            f"{per_login(busy_cpu - server_cpu - database_cpu - client_cpu):.0f} ms",
        ),
        ("login latency p50 / p95", f"{_ms(logins, 0.5):.0f} / {_ms(logins, 0.95):.0f} ms"),
        (
            f"/healthz during the bursts ({len(health)} polls) p50 / p95 / max",
            f"{_ms(health, 0.5):.1f} / {health_p95:.1f} / {1000 * max(health):.1f} ms "
            f"(target p95 < {HEALTH_P95_MS:.0f} ms)",
        ),
        ("answers other than 200", str(others or "none")),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{'what'.ljust(width)} | result\n{'-' * width}-|-{'-' * 44}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    good = not others and ratio >= TARGET and health_p95 < HEALTH_P95_MS
    print("\nverdict:", "meets the targets" if good else "MISSES a target")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
