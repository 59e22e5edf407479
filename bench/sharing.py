"""Sharing at size: ticking 200 client numbers for an accountant in one request, and
unticking them, against the bare SQL floor of the same rows.

    .venv/bin/python bench/sharing.py [--rounds 8] [--keep]

On the data set of bench/documents.py (2 M documents over 20,000 client numbers; the
holding account has 200 numbers, ≈ 17,500 documents in the seven years shown), the
holding's main contact shares all 200 numbers with a new shared user through
`PATCH /api/v1/shared-users/{id}` (`client_codes`: the 200 codes), then unticks them
all (`client_codes`: []), `--rounds` times, through a real `iportal serve`.

The floor, in the same run and on the same database: the bare `INSERT … SELECT` of the
same `visible_document` rows from `document`, where they come from (with the table's
own foreign-key checks), and the bare `DELETE` of them, each committed: what the
database must read and write whatever code asks it to.

While each grant runs, another client reads the documents list of the accountant and
of a main contact as fast as it can; their p95 is compared with the same list's p95 at
rest. Targets: grant and revoke ≤ 1.5× the floor; the list during the grant ≤ 2× idle.
`--keep` keeps (and reuses) the database `iportal_bench_documents`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import asyncpg
import httpx
from _documents_data import ACCOUNTANT, MAIN_CONTACT, OWNER, load, stamp
from _portal import (
    PASSWORD,
    SERVER_DSN,
    KeepAlive,
    Server,
    create_database,
    database_comment,
    database_url,
    drop_database,
    log_in,
    machine_load,
    markdown_table,
    median_p95,
    migrate,
    portal_env,
)

NAME = "iportal_bench_documents"
AUDITOR = "auditor@bench.example"


class Readers:
    """Clients reading the documents list in a loop until stopped, timing each call."""

    def __init__(self, clients: list[KeepAlive]) -> None:
        self.clients = clients
        self.samples: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while not self.stop.is_set():
            for client in self.clients:
                started = time.perf_counter()
                status, _ = client.get("/api/v1/documents")
                self.samples.append(time.perf_counter() - started)
                assert status == 200, status

    def __enter__(self) -> Readers:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def shared_user_id(owner: httpx.Client) -> int:
    """The auditor's shared-user id in the holding account, created the first time."""
    listed = owner.get("/api/v1/shared-users").json()["items"]
    for item in listed:
        if item["email"] == AUDITOR:
            return int(item["id"])
    body = {"email": AUDITOR, "first_name": "Audit", "last_name": "Or", "language": "en",
            "client_codes": []}
    created = owner.post("/api/v1/shared-users", json=body, headers=owner.headers)
    created.raise_for_status()
    return int(created.json()["id"])


def tick(owner: httpx.Client, shared: int, codes: list[str]) -> float:
    started = time.perf_counter()
    answer = owner.patch(f"/api/v1/shared-users/{shared}", json={"client_codes": codes},
                         headers=owner.headers)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed


# What a grant writes: the numbers' rows, then their documents'.
TABLES = ("visible_client_number", "visible_document")
# A visible_document column taken from the document under another name, or not at all.
FROM_DOCUMENT = {"user_id": "$1", "document_id": "d.id", "access_ends_at": "NULL"}


async def columns_of(connection: asyncpg.Connection, table: str) -> list[str]:
    return [row[0] for row in await connection.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = $1 ORDER BY ordinal_position", table)]


async def floor_statements(connection: asyncpg.Connection) -> tuple[str, str]:
    """The bare writes of a grant: the numbers' rows, copied (200 rows, no trigger), and
    the INSERT … SELECT of their documents' rows from `document`, where they come from
    ($1 the user, $2 the numbers, $3 the accountant who already sees them)."""
    numbers = await columns_of(connection, "visible_client_number")
    others = ", ".join(c for c in numbers if c != "user_id")
    copy = (f"INSERT INTO visible_client_number (user_id, {others}) "
            f"SELECT $1, {others} FROM visible_client_number WHERE user_id = $2")
    documents = await columns_of(connection, "visible_document")
    values = ", ".join(FROM_DOCUMENT.get(c, f"d.{c}") for c in documents)
    insert = (f"INSERT INTO visible_document ({', '.join(documents)}) SELECT {values} "
              "FROM document d JOIN client_number c ON c.id = d.client_number_id "
              "WHERE d.client_number_id = ANY($2::int[]) AND d.issue_date >= c.contract_start")
    return copy, insert


async def floor_round(
    url: str, auditor: int, accountant: int, numbers: list[int]
) -> tuple[float, float, int]:
    """The bare INSERT … SELECT and DELETE of the rows a grant of the 200 numbers adds;
    the number of visible_document rows."""
    connection = await asyncpg.connect(url)
    try:
        copy, insert = await floor_statements(connection)
        started = time.perf_counter()
        async with connection.transaction():
            # The numbers' rows without the trigger that fills visible_document from
            # them; then the documents' rows, bare but checked like any insert.
            await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.execute(copy, auditor, accountant)
            await connection.execute("SET LOCAL session_replication_role = origin")
            status = await connection.execute(insert, auditor, numbers)
        inserted = time.perf_counter() - started
        started = time.perf_counter()
        async with connection.transaction():
            for table in TABLES[::-1]:
                await connection.execute(f"DELETE FROM {table} WHERE user_id = $1", auditor)
        deleted = time.perf_counter() - started
        return inserted, deleted, int(status.split()[-1])
    finally:
        await connection.close()


async def count_rows(url: str, user_id: int) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM visible_document WHERE user_id = $1", user_id))
    finally:
        await connection.close()


async def ids(url: str) -> tuple[int, int, list[str], list[int]]:
    connection = await asyncpg.connect(url)
    try:
        users = dict(await connection.fetch(
            "SELECT email, id FROM portal_user WHERE email = ANY($1)", [AUDITOR, ACCOUNTANT]))
        rows = await connection.fetch(
            "SELECT client_code, id FROM client_number WHERE account_id = "
            "(SELECT id FROM account WHERE login = 'bench-holding') ORDER BY id")
        codes, numbers = [row[0] for row in rows], [row[1] for row in rows]
        return users[AUDITOR], users[ACCOUNTANT], codes, numbers
    finally:
        await connection.close()


def p95(samples: list[float]) -> float:
    return median_p95(samples)[1] if len(samples) >= 2 else float("nan")


def run(runner: asyncio.Runner, url: str, data: Path, rounds: int) -> None:
    load_before = machine_load()
    with Server(portal_env(url, data)) as server:
        owner = httpx.Client(base_url=server.url, timeout=120)
        login = owner.post("/api/v1/auth/login", json={"username": OWNER, "password": PASSWORD})
        login.raise_for_status()
        owner.headers["X-CSRF-Token"] = login.headers["x-csrf-token"]
        shared = shared_user_id(owner)
        auditor, accountant, codes, numbers = runner.run(ids(url))
        readers = []
        for email in (ACCOUNTANT, MAIN_CONTACT):
            with httpx.Client(base_url=server.url) as client:
                log_in(client, email)
                readers.append(KeepAlive(server.url, dict(client.cookies)))
        tick(owner, shared, [])  # from nothing, whatever an earlier run left
        idle = Readers(readers)
        with idle:
            time.sleep(3)
        grants, revokes, busy = [], [], []
        floors_in, floors_out, rows = [], [], 0
        for _ in range(rounds):
            with Readers(readers) as during:
                grants.append(tick(owner, shared, codes))
            busy.extend(during.samples)
            granted = runner.run(count_rows(url, auditor))
            revokes.append(tick(owner, shared, []))
            inserted, deleted, rows = runner.run(floor_round(url, auditor, accountant, numbers))
            floors_in.append(inserted)
            floors_out.append(deleted)
            assert granted == rows, (granted, rows)  # the floor writes what the grant wrote
        for client in readers:
            client.close()
        owner.close()
    report(rounds, len(codes), rows, grants, revokes, floors_in, floors_out, idle.samples, busy,
           load_before)


def report(rounds: int, numbers: int, rows: int, grants: list[float], revokes: list[float],
           floors_in: list[float], floors_out: list[float], idle: list[float],
           busy: list[float], load_before: str) -> None:
    ms = [statistics.median(s) * 1000 for s in (grants, floors_in, revokes, floors_out)]
    print(f"\n{date.today()}, {os.cpu_count()} cores; {numbers} client numbers, {rows:,} "
          f"visible_document rows per grant; {rounds} rounds; {load_before} before, "
          f"{machine_load()} after\n")
    rows_out = [
        ["tick 200 numbers (PATCH)", f"{ms[0]:.0f}", f"{ms[1]:.0f}", f"{ms[0] / ms[1]:.2f}×",
         "yes" if ms[0] <= 1.5 * ms[1] else "**no**"],
        ["untick them (PATCH)", f"{ms[2]:.0f}", f"{ms[3]:.0f}", f"{ms[2] / ms[3]:.2f}×",
         "yes" if ms[2] <= 1.5 * ms[3] else "**no**"],
    ]
    print(markdown_table(["change", "API median ms", "floor median ms", "ratio",
                          "≤ 1.5× floor"], rows_out))
    quiet, loaded = p95(idle), p95(busy)
    print(f"\ndocuments list p95 at rest {quiet:.2f} ms ({len(idle)} calls), during the grants "
          f"{loaded:.2f} ms ({len(busy)} calls) = {loaded / quiet:.2f}× (target ≤ 2×: "
          f"{'met' if loaded <= 2 * quiet else 'missed'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-dsn", default=SERVER_DSN)
    parser.add_argument("--documents", type=int, default=2_000_000)
    parser.add_argument("--numbers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the database for reruns")
    args = parser.parse_args()
    url = database_url(args.server_dsn, NAME)
    loaded = stamp(args.documents, args.numbers)
    with asyncio.Runner() as runner, tempfile.TemporaryDirectory(prefix="iportal-bench-") as data:
        if args.keep and runner.run(database_comment(args.server_dsn, NAME)) == loaded:
            print(f"reusing {NAME} (--keep), migrated to this code")
            migrate(portal_env(url, Path(data)))
        else:
            runner.run(create_database(args.server_dsn, NAME))
            migrate(portal_env(url, Path(data)))
            runner.run(load(url, NAME, args.documents, args.numbers, date.today()))
        try:
            run(runner, url, Path(data), args.rounds)
        finally:
            if not args.keep:
                runner.run(drop_database(args.server_dsn, NAME))


if __name__ == "__main__":
    main()
