"""New-document notices per second, from the events to the messages sent, against the
floor of bare aiosmtplib.

    .venv/bin/python bench/notify.py [--documents 2000] [--numbers 1000] [--recipients 2]
                                     [--repeat 1] [--server-dsn URL]

A database of its own (dropped afterwards) holds `--numbers` client numbers, each in an
account of its own with a main contact and `--recipients - 1` shared users who see it,
and `--documents` documents spread over them, without their events yet. An SMTP sink
(aiosmtpd in a process of its own, answering 250 to everything) stands in for the mail
server. For one, then two, `iportal worker` processes (the real command, idle and
waiting): the documents' events are written in one transaction, due at once, and the
clock runs from that commit until every event is handled and every message the workers
queued is sent (the database is polled every 50 ms). Each person gets one notice for
their number per round of events a worker claims (`EVENTS_PER_ROUND`, 2,000): with up to
2,000 documents the messages are `--numbers × --recipients`, with more a number's
documents may be split over two rounds, and its people get two notices.

The floor is the same number of messages, rendered beforehand (the ones the workers
sent, built by `build_message`), sent one after the other by `aiosmtplib.send` (a
connection per message, as the worker's mailer does) to the same sink from this
process, in the same run: what sending alone costs on these cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosmtplib
import asyncpg
from _portal import (
    IPORTAL,
    SERVER_DSN,
    create_database,
    drop_database,
    free_port,
    machine_load,
    markdown_table,
    migrate,
    portal_env,
)

from iportal.notifications.services import OutboxMessage, build_message

DATABASE = "iportal_bench_notify"
SENDER = "portal@bench.example"
TARGET_ONE = 0.50  # one worker: at least half the floor
TARGET_TWO = 1.8  # two workers: at least 1.8 times one


def run_sink(port: int) -> None:
    """The mail server: takes every message and forgets it."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


def start_sink(port: int) -> subprocess.Popen[bytes]:
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            asyncio.run(_probe(port))
            return sink
        except OSError:
            time.sleep(0.1)
    sink.kill()
    raise RuntimeError("the SMTP sink did not come up")


async def _probe(port: int) -> None:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=2)
    await smtp.connect()
    await smtp.quit()


async def seed(dsn: str, numbers: int, recipients: int, documents: int) -> None:
    """Numbers, accounts, people and documents, without events (the visibility tables
    are kept by the database's triggers)."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            issuer = await connection.fetchval(
                "INSERT INTO issuer (prefix, name) VALUES ('BN1', 'Bench Lease NV') RETURNING id"
            )
            await connection.execute(
                "INSERT INTO account (kind, login) "
                "SELECT 'b2b', 'bench-account-' || n FROM generate_series(1, $1) n",
                numbers,
            )
            await connection.execute(
                "INSERT INTO portal_user (email, first_name, language) "
                "SELECT 'bench-' || n || '-' || r || '@example.test', 'Bench', "
                "(ARRAY['nl','fr','en','de'])[1 + (n + r) % 4] "
                "FROM generate_series(1, $1) n, generate_series(1, $2) r",
                numbers,
                recipients,
            )
            await connection.execute(
                "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
                "contract_start, account_id, delivery_channel) "
                "SELECT $1, 'BN1' || lpad(n::text, 7, '0'), 'Bench Company ' || n, "
                "'client-' || n || '@example.test', DATE '2015-01-01', a.id, 'electronic' "
                "FROM generate_series(1, $2) n JOIN account a ON a.login = 'bench-account-' || n",
                issuer,
                numbers,
            )
            await connection.execute(
                "INSERT INTO account_membership (account_id, user_id) "
                "SELECT a.id, u.id FROM generate_series(1, $1) n "
                "JOIN account a ON a.login = 'bench-account-' || n "
                "JOIN portal_user u ON u.email = 'bench-' || n || '-1@example.test'",
                numbers,
            )
            await connection.execute(
                "INSERT INTO shared_user (account_id, user_id) "
                "SELECT a.id, u.id FROM generate_series(1, $1) n, generate_series(2, $2) r, "
                "account a, portal_user u WHERE a.login = 'bench-account-' || n "
                "AND u.email = 'bench-' || n || '-' || r || '@example.test'",
                numbers,
                recipients,
            )
            await connection.execute(
                "INSERT INTO client_number_grant (shared_user_id, client_number_id) "
                "SELECT su.id, cn.id FROM shared_user su JOIN client_number cn "
                "ON cn.account_id = su.account_id"
            )
            await connection.execute(
                "INSERT INTO document (client_number_id, type, number, issue_date, "
                "amount_excl_vat, vat_amount, amount_incl_vat, pdf_blob_hash) "
                "SELECT cn.id, 'invoice', 'F2026-' || lpad(d::text, 6, '0'), "
                "DATE '2026-11-01' + (d % 28), 100.00, 21.00, 121.00, repeat('0', 64) "
                "FROM generate_series(1, $1) d JOIN client_number cn "
                "ON cn.client_code = 'BN1' || lpad((1 + d % $2)::text, 7, '0')",
                documents,
                numbers,
            )
    finally:
        await connection.close()


class Workers:
    """`count` `iportal worker` processes, stopped as the command is (SIGTERM)."""

    def __init__(self, env: dict[str, str], count: int) -> None:
        self.processes = [
            subprocess.Popen(
                [IPORTAL, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            for _ in range(count)
        ]

    def wait_until_started(self) -> None:
        for process in self.processes:
            assert process.stderr is not None
            for line in process.stderr:  # its log: the loop is running after this line
                if b"worker started" in line:
                    break
            else:
                raise RuntimeError("iportal worker stopped before it started")
        time.sleep(2)  # past their first (empty) round

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def reset(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DELETE FROM outbox_email; DELETE FROM document_event")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def events_to_sent(dsn: str) -> tuple[float, int]:
    """Writes every document's event (already past the burst wait) and waits for the
    workers to send what follows; (seconds, messages)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO document_event (document_id, client_number_id, created_at) "
            "SELECT id, client_number_id, now() - interval '10 minutes' FROM document"
        )
        started = time.perf_counter()
        while True:
            await asyncio.sleep(0.05)
            row = await connection.fetchrow(
                "SELECT (SELECT count(*) FROM document_event WHERE processed_at IS NULL) AS events,"
                " (SELECT count(*) FROM outbox_email WHERE state <> 'sent') AS unsent,"
                " (SELECT count(*) FROM outbox_email) AS messages"
            )
            assert row is not None
            if row["events"] == 0 and row["unsent"] == 0 and row["messages"] > 0:
                return time.perf_counter() - started, int(row["messages"])
    finally:
        await connection.close()


async def rendered(dsn: str) -> list[object]:
    """The messages the workers sent, built again as the worker builds them."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id, recipient, language, subject, body_text, body_html, attempts "
            "FROM outbox_email ORDER BY id"
        )
    finally:
        await connection.close()
    return [build_message(OutboxMessage(**row), SENDER, "bench") for row in rows]


async def floor(messages: list[object], port: int) -> float:
    """Bare sending: one message after the other, a connection each; seconds."""
    started = time.perf_counter()
    for message in messages:
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=30)  # type: ignore[arg-type]
    return time.perf_counter() - started


def measure(dsn: str, env: dict[str, str], count: int) -> tuple[float, int]:
    asyncio.run(reset(dsn))
    workers = Workers(env, count)
    try:
        workers.wait_until_started()
        return asyncio.run(events_to_sent(dsn))
    finally:
        workers.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--numbers", type=int, default=1000)
    parser.add_argument("--recipients", type=int, default=2, help="people per number")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--server-dsn", default=SERVER_DSN)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(args.sink)
        return

    port = free_port()
    sink = start_sink(port)
    dsn = asyncio.run(create_database(args.server_dsn, DATABASE))
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            env = portal_env(dsn, Path(data_dir))
            env.update(IPORTAL_SMTP_HOST="127.0.0.1", IPORTAL_SMTP_PORT=str(port))
            env.update(IPORTAL_SECRET_KEY="bench-notify-" + "k" * 40, IPORTAL_LOG_LEVEL="INFO")
            migrate(env)
            asyncio.run(seed(dsn, args.numbers, args.recipients, args.documents))
            rows = []
            for round_ in range(1, args.repeat + 1):
                one, messages = measure(dsn, env, 1)
                bare = asyncio.run(floor(asyncio.run(rendered(dsn)), port))
                two, messages_two = measure(dsn, env, 2)
                assert messages_two == messages, (messages, messages_two)
                rates = [messages / bare, messages / one, messages / two]
                rows.append(
                    [
                        str(round_),
                        str(messages),
                        f"{rates[0]:,.0f}/s ({bare:.2f} s)",
                        f"{rates[1]:,.0f}/s ({one:.2f} s)",
                        f"{rates[1] / rates[0]:.0%}",
                        f"{rates[2]:,.0f}/s ({two:.2f} s)",
                        f"{rates[2] / rates[1]:.2f}×",
                        f"{rates[2] / rates[0]:.0%}",
                    ]
                )
    finally:
        asyncio.run(drop_database(args.server_dsn, DATABASE))
        sink.terminate()
        sink.wait()
    print(
        f"\n{args.documents:,} documents over {args.numbers:,} numbers, "
        f"{args.recipients} people each; {os.cpu_count()} cores, {machine_load()}\n"
    )
    header = [
        "round",
        "messages",
        "floor (aiosmtplib)",
        "1 worker",
        "of floor",
        "2 workers",
        "× 1 worker",
        "of floor",
    ]
    print(markdown_table(header, rows))
    print(
        f"\ntargets: 1 worker ≥ {TARGET_ONE:.0%} of the floor; 2 workers ≥ {TARGET_TWO}× one worker"
    )


if __name__ == "__main__":
    main()
