"""The data set of bench/documents.py: 2 M documents over 20,000 client numbers of one
issuer, loaded with COPY; an accountant who sees 200 numbers (30 % of what they see is
read) as a shared user of the account holding them; a main contact with 3 numbers."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta

import asyncpg
from _portal import PASSWORD

from iportal.documents.reading import PORTAL_START, window_start
from iportal.security import PASSWORD_HASHER

ACCOUNTANT = "accountant@bench.example"
MAIN_CONTACT = "main.contact@bench.example"
OWNER = "owner@bench.example"
PDF_HASH = "0" * 64  # the list needs no real blobs
SHARED = 200  # client numbers the accountant sees
MAIN = (50, 150, 250)  # client numbers of the main contact's account
COLUMNS = ("id", "client_number_id", "type", "type_code", "number", "issue_date", "due_date",
           "currency", "amount_excl_vat", "vat_amount", "amount_incl_vat", "pdf_blob_hash",
           "pdf_size", "page_count", "structured_kind", "published_at")


def _cents(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def _amounts(rng: random.Random) -> list[tuple[str, ...]]:
    """4,096 amounts excluding VAT (log-normal, median about €250), each with its VAT
    and total at 21 % and at 6 %, formatted once: the load formats 2 M rows."""
    table = []
    for _ in range(4096):
        excl = max(100, int(rng.lognormvariate(5.5, 1.1) * 100))
        vat21, vat6 = (excl * 21 + 50) // 100, (excl * 6 + 50) // 100
        table.append(tuple(_cents(c) for c in (excl, vat21, excl + vat21, vat6, excl + vat6)))
    return table


def document_lines(documents: int, numbers: int, today: date) -> AsyncIterator[bytes]:
    """COPY text of the documents in publishing order: issue dates spread evenly over
    eight years, one random client number each, numbers `F2024-123456` (invoices) and
    `C2024-123456` (credit notes) from one sequence per year."""
    rng = random.Random(2026)
    amounts = _amounts(rng)
    first = today - timedelta(days=8 * 365)
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    per_year: dict[int, int] = {}

    async def chunks() -> AsyncIterator[bytes]:
        lines: list[str] = []
        start = 0
        for n, issued in enumerate(days):
            end = (n + 1) * documents // len(days)
            fixed = f"{issued}\t{issued + timedelta(days=30)}\tEUR"
            tail = f"{PDF_HASH}\t1800\t1\tnone\t{issued} 06:00:00+00"
            for i in range(start, end):
                sequence = per_year[issued.year] = per_year.get(issued.year, 0) + 1
                excl, vat21, incl21, vat6, incl6 = amounts[rng.getrandbits(12)]
                vat, incl = (vat21, incl21) if rng.random() < 0.8 else (vat6, incl6)
                kind, code, letter = (
                    ("credit_note", "381", "C") if rng.random() < 0.1 else ("invoice", "380", "F")
                )
                lines.append(
                    f"{i + 1}\t{rng.randrange(numbers) + 1}\t{kind}\t{code}\t"
                    f"{letter}{issued.year}-{sequence:06d}\t{fixed}\t{excl}\t{vat}\t{incl}\t{tail}"
                )
            start = end
            if len(lines) >= 50_000:
                yield ("\n".join(lines) + "\n").encode()
                lines = []
        if lines:
            yield ("\n".join(lines) + "\n").encode()

    return chunks()


async def _people(connection: asyncpg.Connection, numbers: int) -> None:
    """Issuer, users, the two accounts and the client numbers (no access yet)."""
    issuer = await connection.fetchval(
        "INSERT INTO issuer (prefix, name, language) VALUES ('BN1', 'Bench Lease NV', 'nl') "
        "RETURNING id")
    password_hash = PASSWORD_HASHER.hash(PASSWORD)
    for email in (ACCOUNTANT, MAIN_CONTACT, OWNER):
        await connection.execute(
            "INSERT INTO portal_user (email, language, password_hash, email_confirmed_at) "
            "VALUES ($1, 'en', $2, now())", email, password_hash)
    accounts = {}
    for login in ("bench-holding", "bench-main"):
        accounts[login] = await connection.fetchval(
            "INSERT INTO account (kind, login) VALUES ('b2b', $1) RETURNING id", login)
    holding = {n * (numbers // SHARED) for n in range(1, SHARED + 1)}

    def account_of(n: int) -> int | None:
        return accounts["bench-holding"] if n in holding else (
            accounts["bench-main"] if n in MAIN else None)

    await connection.copy_records_to_table(
        "client_number",
        columns=("id", "issuer_id", "client_code", "company_name", "email", "contract_start",
                 "delivery_channel", "account_id"),
        records=[(n, issuer, f"BN1{n:07d}", f"Client {n} BV", f"client{n}@bench.example",
                  date(2010, 1, 1), "paper" if account_of(n) is None else "electronic",
                  account_of(n)) for n in range(1, numbers + 1)],
    )


async def _access(connection: asyncpg.Connection) -> None:
    """The main contacts and the accountant's grants, once the documents are in: the
    database then fills each user's `visible_document` as it does on any grant."""
    users = dict(await connection.fetch("SELECT email, id FROM portal_user"))
    accounts = dict(await connection.fetch("SELECT login, id FROM account"))
    for login, user in (("bench-holding", OWNER), ("bench-main", MAIN_CONTACT)):
        await connection.execute(
            "INSERT INTO account_membership (account_id, user_id) VALUES ($1, $2)",
            accounts[login], users[user])
    shared_user = await connection.fetchval(
        "INSERT INTO shared_user (account_id, user_id) VALUES ($1, $2) RETURNING id",
        accounts["bench-holding"], users[ACCOUNTANT])
    await connection.execute(
        "INSERT INTO client_number_grant (shared_user_id, client_number_id) "
        "SELECT $1, id FROM client_number WHERE account_id = $2 ORDER BY id",
        shared_user, accounts["bench-holding"])


async def load(url: str, name: str, documents: int, numbers: int, today: date) -> None:
    connection = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await _people(connection, numbers)
        # Indexes are built after the load (faster); constraints' own indexes stay.
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'document' AND "
            "indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'document'::regclass)")
        for index in indexes:
            await connection.execute(f"DROP INDEX {index['indexname']}")
        # The generator keeps every foreign key: skip the per-row checks (superuser). The
        # check constraints stay; the regex on pdf_blob_hash alone costs ~10 µs a row.
        await connection.execute("SET session_replication_role = replica")
        await connection.copy_to_table(
            "document", source=document_lines(documents, numbers, today), columns=COLUMNS)
        await connection.execute("SET session_replication_role = DEFAULT")
        loaded = time.perf_counter()
        await connection.execute("SET maintenance_work_mem = '512MB'")
        for index in indexes:
            await connection.execute(index["indexdef"])
        indexed = time.perf_counter()
        await _access(connection)
        await _read_marks(connection, today)
        await connection.execute(
            "SELECT setval('document_id_seq', $1), setval('client_number_id_seq', $2)",
            documents, numbers)
        await connection.execute("VACUUM ANALYZE")
        print(f"loaded {documents:,} documents (COPY) in {loaded - started:.1f} s, "
              f"{len(indexes)} indexes in {indexed - loaded:.1f} s, then access (the "
              f"database fills visible_document), read marks and VACUUM ANALYZE in "
              f"{time.perf_counter() - indexed:.1f} s")
        await connection.execute(f"COMMENT ON DATABASE {name} IS '{stamp(documents, numbers)}'")
    finally:
        await connection.close()


async def _read_marks(connection: asyncpg.Connection, today: date) -> None:
    """30 % of what the accountant sees, chosen at random, is read."""
    user = await connection.fetchval("SELECT id FROM portal_user WHERE email = $1", ACCOUNTANT)
    visible = await connection.fetch(
        "SELECT d.id FROM client_number_grant g "
        "JOIN document d ON d.client_number_id = g.client_number_id AND d.issue_date >= $1",
        max(window_start(today), PORTAL_START))
    read = random.Random(7).sample([row["id"] for row in visible], round(len(visible) * 0.3))
    await connection.copy_records_to_table(
        "document_read_mark", columns=("user_id", "document_id"),
        records=[(user, document) for document in sorted(read)])


def stamp(documents: int, numbers: int) -> str:
    return f"iportal bench: {documents} documents, {numbers} client numbers"
