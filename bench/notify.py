"""New-document notices per second, from publication to the messages at the mail
server, against the floor of bare aiosmtplib.

    .venv/bin/python bench/notify.py [--documents 10000] [--numbers 2000] [--people 5000]
                                     [--repeat 1] [--server-delay-ms 0] [--server-dsn URL]

A database of its own (dropped afterwards) holds `--numbers` client numbers, each in an
account of its own, and `--people` people: the first `--numbers` are the accounts' main
contacts, the others shared users granted the number of account 1 + (n - 1) mod
`--numbers` (so 2 or 3 people per number with the defaults), their rhythms in turn
immediate, daily, weekly; and `--documents` documents spread evenly over the numbers,
without their events yet. An SMTP sink (aiosmtpd in a process of its own, answering 250
to everything) stands in for the mail server and writes down each message's arrival
time and Message-ID.

For one, then two, `iportal worker` processes (the real command, idle and waiting): the
documents' events are written in one transaction, number by number as an ingest
publishes them, dated past the burst wait (90 s, which would otherwise come first),
and the clock runs from that commit until the last immediate notice reaches the sink.
People on a daily or weekly digest get nothing now (their documents wait for the
digest). Reported: e-mails per second from publication to the last notice (the
figure held against the floor), the seconds from publication to the last notice, the
rate while sending (first to last message at the sink), and how many Message-IDs the
sink saw more than once (must be 0).

The floor is the same number of messages, encoded beforehand as the worker encodes
them (`encode_message`), sent one after the other by `aiosmtplib` over one reused
connection to the same sink from this process, in the same run: what sending alone
costs on these cores.

Workers, sink and database share the machine's cores, so two workers can only be as
fast as the cores allow: the ceiling column is how many times one worker's rate two
would reach if every core did nothing but their messages (cores ÷ CPU time per message
with two workers, all processes counted). `--server-delay-ms` makes the sink answer each
message that much later, as a mail server that writes it to disk before saying 250:
the workers then wait on the server more than on the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from email.utils import format_datetime
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

from iportal import clock
from iportal.notifications.bounces import return_path
from iportal.notifications.encoding import encode_message, message_id

DATABASE = "iportal_bench_notify"
SENDER = "portal@bench.example"
KEY = "bench-notify-" + "k" * 40
TARGET_ONE = 0.50  # one worker: at least half the floor
TARGET_TWO = 1.8  # two workers: at least 1.8 times one
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.MULTILINE | re.IGNORECASE)


def run_sink(port: int, log_path: str, delay_ms: float) -> None:
    """The mail server: takes every message, writes down when and which, forgets it;
    answers `delay_ms` after the message's end, as a server that writes it to disk first."""
    from aiosmtpd.controller import Controller

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 — open until SIGTERM

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            found = MESSAGE_ID.search(envelope.content)  # type: ignore[attr-defined]
            mid = found.group(1).decode() if found else "-"
            log.write(f"{time.time():.6f} {mid}\n")
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000)
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()
    log.close()


def start_sink(port: int, log_path: Path, delay_ms: float) -> subprocess.Popen[bytes]:
    sink = subprocess.Popen(
        [sys.executable, __file__, "--sink", str(port), str(log_path), str(delay_ms)]
    )
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


async def seed(dsn: str, numbers: int, people: int, documents: int) -> None:
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
                "INSERT INTO portal_user (email, first_name, language, notification_frequency) "
                "SELECT 'bench-' || p || '@example.test', 'Bench', "
                "(ARRAY['nl','fr','en','de'])[1 + p % 4], "
                "(ARRAY['immediate','daily','weekly'])[1 + p % 3] "
                "FROM generate_series(1, $1) p",
                people,
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
            # Person p belongs to account 1 + (p - 1) mod numbers: its main contact
            # when p <= numbers, a shared user granted its number otherwise.
            await connection.execute(
                "INSERT INTO account_membership (account_id, user_id) "
                "SELECT a.id, u.id FROM generate_series(1, $1) p "
                "JOIN account a ON a.login = 'bench-account-' || p "
                "JOIN portal_user u ON u.email = 'bench-' || p || '@example.test'",
                min(numbers, people),
            )
            await connection.execute(
                "INSERT INTO shared_user (account_id, user_id) "
                "SELECT a.id, u.id FROM generate_series($1 + 1, $2) p "
                "JOIN account a ON a.login = 'bench-account-' || (1 + (p - 1) % $1) "
                "JOIN portal_user u ON u.email = 'bench-' || p || '@example.test'",
                numbers,
                people,
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
        await connection.execute(
            "DELETE FROM outbox_email; DELETE FROM document_event; DELETE FROM notice_digest"
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def publish_and_wait(dsn: str) -> tuple[float, int]:
    """Writes every document's event, number by number (already past the burst wait),
    and waits for the workers to send what follows; (wall-clock time of the commit,
    messages)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO document_event (document_id, client_number_id, created_at) "
            "SELECT id, client_number_id, now() - interval '10 minutes' FROM document "
            "ORDER BY client_number_id, id"
        )
        published = time.time()
        # Looked at 20 times a second through the partial indexes of what is pending,
        # so that looking costs the cores next to nothing.
        while await connection.fetchval(
            "SELECT EXISTS (SELECT FROM document_event WHERE processed_at IS NULL)"
            " OR EXISTS (SELECT FROM outbox_email WHERE state = 'pending')"
        ):
            await asyncio.sleep(0.05)
        messages = await connection.fetchval("SELECT count(*) FROM outbox_email")
        return published, int(messages)
    finally:
        await connection.close()


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (those still there)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def backend_pids(dsn: str) -> list[int]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


@dataclass(frozen=True)
class Run:
    messages: int
    to_last: float  # seconds from publication to the last message at the sink
    sending: float  # seconds from the first message at the sink to the last
    twice: int  # Message-IDs the sink saw more than once
    first: float  # seconds from publication to the first message at the sink
    cpu: tuple[float, float, float] = (0.0, 0.0, 0.0)  # seconds: workers, sink, database

    @property
    def rate(self) -> float:
        return self.messages / self.to_last


def arrivals(log_path: Path, offset: int, expected: int) -> list[tuple[float, str]]:
    """The sink's lines written after `offset` (waiting a moment for the last ones)."""
    deadline = time.monotonic() + 10
    while True:
        with log_path.open() as log:
            log.seek(offset)
            lines = [line.split() for line in log.read().splitlines()]
        if len(lines) >= expected or time.monotonic() > deadline:
            return [(float(at), mid) for at, mid in lines]
        time.sleep(0.05)


def measure(dsn: str, env: dict[str, str], count: int, log_path: Path, sink: int) -> Run:
    asyncio.run(reset(dsn))
    offset = log_path.stat().st_size
    workers = Workers(env, count)
    try:
        workers.wait_until_started()
        worker_pids = [process.pid for process in workers.processes]
        backends = asyncio.run(backend_pids(dsn))
        before = (cpu_seconds(worker_pids), cpu_seconds([sink]), cpu_seconds(backends))
        published, messages = asyncio.run(publish_and_wait(dsn))
        after = (cpu_seconds(worker_pids), cpu_seconds([sink]), cpu_seconds(backends))
    finally:
        workers.stop()
    seen = arrivals(log_path, offset, messages)
    times = [at for at, _ in seen]
    ids = [mid for _, mid in seen]
    return Run(
        messages=len(seen),
        to_last=max(times) - published,
        sending=max(times) - min(times),
        first=min(times) - published,
        twice=len(ids) - len(set(ids)),
        cpu=(after[0] - before[0], after[1] - before[1], after[2] - before[2]),
    )


async def encoded(dsn: str) -> list[tuple[str, str, bytes]]:
    """The messages the workers sent, encoded again as the worker encodes them, with
    their envelopes."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id, recipient, language, subject, body_text, body_html, list_unsubscribe "
            "FROM outbox_email ORDER BY id"
        )
    finally:
        await connection.close()
    date = format_datetime(clock.utcnow())
    messages = []
    for row in rows:
        message = encode_message(
            message_id=message_id(row["id"], SENDER, KEY),
            sender=SENDER,
            recipient=row["recipient"],
            subject=row["subject"],
            language=row["language"],
            date=date,
            body_text=row["body_text"],
            body_html=row["body_html"],
            list_unsubscribe=row["list_unsubscribe"],
        )
        assert message is not None
        envelope = return_path(row["id"], "bench.example", KEY)
        messages.append((envelope, row["recipient"], message))
    return messages


async def floor(messages: list[tuple[str, str, bytes]], port: int) -> float:
    """Bare sending: one message after the other over one connection; seconds."""
    started = time.perf_counter()
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
    await smtp.connect()
    for sender, recipient, message in messages:
        await smtp.sendmail(sender, [recipient], message)
    await smtp.quit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--numbers", type=int, default=2_000)
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--server-dsn", default=SERVER_DSN)
    parser.add_argument(
        "--server-delay-ms",
        type=float,
        default=0,
        help="the sink answers a message this long after its end (a mail server that "
        "writes it to disk first); 0: at once",
    )
    parser.add_argument("--sink", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(int(args.sink[0]), args.sink[1], float(args.sink[2]))
        return

    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        log_path = Path(data_dir) / "sink.log"
        log_path.touch()
        sink = start_sink(port, log_path, args.server_delay_ms)
        dsn = asyncio.run(create_database(args.server_dsn, DATABASE))
        try:
            env = portal_env(dsn, Path(data_dir))
            env.update(IPORTAL_SMTP_HOST="127.0.0.1", IPORTAL_SMTP_PORT=str(port))
            env.update(IPORTAL_SECRET_KEY=KEY, IPORTAL_LOG_LEVEL="INFO")
            env.update(IPORTAL_MAIL_FROM=SENDER)
            migrate(env)
            asyncio.run(seed(dsn, args.numbers, args.people, args.documents))
            rounds = range(args.repeat)
            rows = [run_round(round_, dsn, env, port, log_path, sink.pid) for round_ in rounds]
        finally:
            asyncio.run(drop_database(args.server_dsn, DATABASE))
            sink.terminate()
            sink.wait()
    print(
        f"\n{args.documents:,} documents over {args.numbers:,} numbers, {args.people:,} "
        f"people (a third each immediate, daily, weekly); the sink answers "
        f"{f'{args.server_delay_ms:g} ms after a message' if args.server_delay_ms else 'at once'}; "
        f"{os.cpu_count()} cores, {machine_load()}\n"
    )
    header = [
        "round",
        "notices",
        "floor (aiosmtplib, 1 connection)",
        "1 worker: publication → last notice",
        "of floor",
        "sending",
        "2 workers: publication → last notice",
        "× 1 worker",
        "ceiling on these cores",
        "sending",
        "sent twice",
        "CPU ms per message, floor: sender / sink",
        "1 worker: worker / sink / database",
        "2 workers",
    ]
    print(markdown_table(header, rows))
    print(
        f"\ntargets: 1 worker ≥ {TARGET_ONE:.0%} of the floor; 2 workers ≥ {TARGET_TWO}× one "
        "worker; nothing sent twice"
    )


def run_round(
    round_: int, dsn: str, env: dict[str, str], port: int, log_path: Path, sink: int
) -> list[str]:
    one = measure(dsn, env, 1, log_path, sink)
    messages = asyncio.run(encoded(dsn))
    sink_before, own_before = cpu_seconds([sink]), time.process_time()
    bare = asyncio.run(floor(messages, port))
    floor_cpu = (time.process_time() - own_before, cpu_seconds([sink]) - sink_before)
    two = measure(dsn, env, 2, log_path, sink)
    assert two.messages == one.messages == len(messages), (one, two, len(messages))
    floor_rate = len(messages) / bare
    return [
        str(round_ + 1),
        f"{one.messages:,}",
        f"{floor_rate:,.0f}/s ({bare:.2f} s)",
        f"{one.rate:,.0f}/s ({one.to_last:.2f} s)",
        f"{one.rate / floor_rate:.0%}",
        f"{one.messages / one.sending:,.0f}/s (first after {one.first:.2f} s)",
        f"{two.rate:,.0f}/s ({two.to_last:.2f} s)",
        f"{two.rate / one.rate:.2f}×",
        f"{ceiling(two, one.rate):.2f}×",
        f"{two.messages / two.sending:,.0f}/s (first after {two.first:.2f} s)",
        f"{one.twice} / {two.twice}",
        per_message(floor_cpu, len(messages)),
        per_message(one.cpu, one.messages),
        per_message(two.cpu, two.messages),
    ]


def ceiling(two: Run, one_rate: float) -> float:
    """The most two workers could send, in multiples of one worker's rate, with every
    core of the machine doing nothing but their messages (the workers', the sink's and
    the database's CPU time per message, as measured with two workers)."""
    seconds_per_message = sum(two.cpu) / two.messages
    return (os.cpu_count() or 1) / seconds_per_message / one_rate


def per_message(cpu: tuple[float, ...], messages: int) -> str:
    """CPU milliseconds per message: sender (workers or the floor's loop), sink, database."""
    return " / ".join(f"{seconds * 1000 / messages:.2f}" for seconds in cpu)


if __name__ == "__main__":
    main()
