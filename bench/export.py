"""The ZIP export of 10,000 documents through a real `iportal serve`, against `zip -0`.

    .venv/bin/python bench/export.py [--documents 10000] [--runs 3]

Renders one invoice PDF per document (ReportLab, in a process pool; every blob differs)
into the blob folder of a fresh data folder, loads the rows (COPY) into a fresh
database with one main contact who sees them all, then times, alternately,
`zip -0 -q` of the same blob files (streamed to /dev/null) and
`GET /api/v1/documents/export.zip` (curl, the body to /dev/null) while sampling the
server process's RSS every 20 ms. Then, to show that memory stays flat, a fresh server
for each of N/4, N/2 and N documents (an amount filter picks them) and its peak RSS
during that one export. Targets: peak RSS under 150 MB, rate ≥ 80 % of zip -0.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from multiprocessing import Pool
from pathlib import Path

import asyncpg
import httpx
import psutil
from _portal import (
    PASSWORD,
    SERVER_DSN,
    Server,
    create_database,
    drop_database,
    log_in,
    machine_load,
    markdown_table,
    migrate,
    portal_env,
)

from iportal.demo.pdfs import InvoicePage, render_invoice
from iportal.documents.storage import FolderBlobStore, blob_hash
from iportal.security import PASSWORD_HASHER

NAME = "iportal_bench_export"
USER = "exporter@bench.example"
NUMBERS = 20
CENT = Decimal("0.01")
MB = 1024 * 1024


def _document(i: int) -> InvoicePage:
    """Document i: one of 20 client numbers, issued within the last seven years."""
    rng = random.Random(i)
    issued = date.today() - timedelta(days=rng.randrange(7 * 365 - 10))
    excl = Decimal(rng.randrange(1500, 250000)) * CENT
    vat = (excl * 21 / 100).quantize(CENT)
    code = f"BX1{i % NUMBERS + 1:07d}"
    return InvoicePage(
        "Bench Lease NV", "Wetstraat 1, 1000 Brussel", f"Client {code} BV", code,
        "credit_note" if rng.random() < 0.1 else "invoice", f"E{issued.year}-{i:06d}",
        issued, issued + timedelta(days=30), "EUR",
        ((f"Lease {rng.randrange(100, 999)}, month {issued:%Y-%m}", excl),),
        Decimal(21), excl, vat, excl + vat,
    )


def _render(args: tuple[int, str]) -> tuple:
    """Renders document i into the blob folder; its row for COPY."""
    i, root = args
    page = _document(i)
    pdf = render_invoice(page)
    path = FolderBlobStore(Path(root)).path(blob_hash(pdf))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf)  # no fsync: benchmark data
    return (int(page.client_code[3:]), page.document_type,
            "381" if page.document_type == "credit_note" else "380", page.number,
            page.issue_date, page.due_date, page.amount_excl_vat, page.vat_amount,
            page.amount_incl_vat, path.name, len(pdf), 1)


async def load(url: str, rows: list[tuple]) -> None:
    connection = await asyncpg.connect(url)
    try:
        issuer = await connection.fetchval(
            "INSERT INTO issuer (prefix, name) VALUES ('BX1', 'Bench Lease NV') RETURNING id")
        user = await connection.fetchval(
            "INSERT INTO portal_user (email, password_hash, email_confirmed_at) "
            "VALUES ($1, $2, now()) RETURNING id", USER, PASSWORD_HASHER.hash(PASSWORD))
        account = await connection.fetchval(
            "INSERT INTO account (kind, login) VALUES ('b2b', 'bench-export') RETURNING id")
        await connection.execute(
            "INSERT INTO account_membership (account_id, user_id) VALUES ($1, $2)", account, user)
        await connection.copy_records_to_table(
            "client_number",
            columns=("id", "issuer_id", "client_code", "company_name", "email",
                     "contract_start", "delivery_channel", "account_id"),
            records=[(n, issuer, f"BX1{n:07d}", f"Client {n} BV", f"c{n}@bench.example",
                      date(2010, 1, 1), "electronic", account) for n in range(1, NUMBERS + 1)])
        await connection.copy_records_to_table(
            "document",
            columns=("client_number_id", "type", "type_code", "number", "issue_date",
                     "due_date", "amount_excl_vat", "vat_amount", "amount_incl_vat",
                     "pdf_blob_hash", "pdf_size", "page_count"),
            records=rows)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def time_zip(blobs: Path, names: list[str]) -> float:
    """`zip -0 -q` of the blob files, written to stdout and thrown away."""
    zip_tool = shutil.which("zip")
    assert zip_tool, "apt-get install zip"
    started = time.perf_counter()
    subprocess.run([zip_tool, "-0", "-q", "-", "-@"], cwd=blobs, input="\n".join(names).encode(),
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


class PeakRss:
    """Samples the RSS of a process (and its children) every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def rss(self) -> int:
        processes = [self.process, *self.process.children(recursive=True)]
        return sum(p.memory_info().rss for p in processes)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def time_export(
    url: str, cookies: httpx.Cookies, pid: int, query: str = ""
) -> tuple[float, int, int]:
    """Seconds, bytes received and the server's peak RSS during one export, the body
    streamed to /dev/null by curl (a C client, like zip: the client's own CPU stays small
    on two cores)."""
    curl = shutil.which("curl")
    assert curl, "apt-get install curl"
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    with PeakRss(pid) as sampler:
        started = time.perf_counter()
        done = subprocess.run(
            [curl, "-sf", "-o", "/dev/null", "-w", "%{size_download}", "-H", f"Cookie: {cookie}",
             f"{url}/api/v1/documents/export.zip{query}"],
            capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - started
    return elapsed, int(done.stdout), sampler.peak


def check_archive(client: httpx.Client, documents: int) -> None:
    """Once, outside the timings: a valid archive (every CRC checked) of every PDF and
    the CSV with a line per document."""
    content = client.get("/api/v1/documents/export.zip", timeout=300).content
    archive = zipfile.ZipFile(io.BytesIO(content))
    names = archive.namelist()
    assert len(names) == documents + 1 and names[-1] == "documents.csv", len(names)
    assert archive.testzip() is None
    assert archive.read("documents.csv").count(b"\r\n") == documents + 1


async def amount_cuts(url: str, counts: list[int]) -> list[tuple[int, str]]:
    """For each count n, an `amount_max` selecting about n documents, and how many."""
    connection = await asyncpg.connect(url)
    try:
        cuts = []
        for n in counts:
            cut = await connection.fetchval(
                "SELECT amount_incl_vat FROM document ORDER BY amount_incl_vat OFFSET $1 LIMIT 1",
                n - 1)
            selected = await connection.fetchval(
                "SELECT count(*) FROM document WHERE amount_incl_vat <= $1", cut)
            cuts.append((selected, f"?amount_max={cut}"))
        return cuts
    finally:
        await connection.close()


def memory(env: dict[str, str], url: str, documents: int) -> list[tuple[int, int, int, int]]:
    """Documents, bytes, idle and peak RSS of a fresh server exporting N/4, N/2 and N."""
    cuts = asyncio.run(amount_cuts(url, [documents // 4, documents // 2]))
    results = []
    for selected, query in [*cuts, (documents, "")]:
        with Server(env) as server, httpx.Client(base_url=server.url, timeout=300) as client:
            log_in(client, USER)
            idle = PeakRss(server.process.pid).rss()
            _, received, peak = time_export(server.url, client.cookies, server.process.pid, query)
            results.append((selected, received, idle, peak))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-dsn", default=SERVER_DSN)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="iportal-bench-export-"))
    data, blobs = folder / "var", folder / "var" / "blobs"
    url = asyncio.run(create_database(args.server_dsn, NAME))
    try:
        env = portal_env(url, data)
        migrate(env)
        started = time.perf_counter()
        with Pool() as pool:
            rows = pool.map(_render, [(i, str(blobs)) for i in range(args.documents)], 64)
        names = [str(FolderBlobStore(blobs).path(row[9]).relative_to(blobs)) for row in rows]
        size = sum(row[10] for row in rows)
        distinct = len({row[9] for row in rows})
        print(f"rendered {len(rows):,} PDFs ({size / MB:.1f} MB, {distinct:,} distinct) "
              f"in {time.perf_counter() - started:.0f} s")
        asyncio.run(load(url, rows))
        with Server(env) as server, httpx.Client(base_url=server.url, timeout=300) as client:
            log_in(client, USER)
            idle = PeakRss(server.process.pid).rss()
            check_archive(client, args.documents)
            zips, exports = [], []
            for _ in range(args.runs):
                zips.append(time_zip(blobs, names))
                exports.append(time_export(server.url, client.cookies, server.process.pid))
        flat = memory(env, url, args.documents)
        report(args.documents, size, zips, exports, idle, flat)
    finally:
        asyncio.run(drop_database(args.server_dsn, NAME))
        shutil.rmtree(folder, ignore_errors=True)


def report(documents: int, size: int, zips: list[float], exports: list[tuple[float, int, int]],
           idle: int, flat: list[tuple[int, int, int, int]]) -> None:
    zip_s = statistics.median(zips)
    api_s = statistics.median(e[0] for e in exports)
    peak = max(e[2] for e in exports)
    received = exports[0][1]
    rows = [
        ["`zip -0 -q` of the blob files", f"{zip_s:.2f}", f"{documents / zip_s:,.0f}",
         f"{size / MB / zip_s:.0f}", ""],
        ["`GET /api/v1/documents/export.zip`", f"{api_s:.2f}", f"{documents / api_s:,.0f}",
         f"{received / MB / api_s:.0f}", f"{peak / MB:.0f} (idle {idle / MB:.0f})"],
    ]
    print(f"\n{date.today()}, {os.cpu_count()} cores, {documents:,} documents, "
          f"median of {len(zips)} runs each, {machine_load()}\n")
    print(markdown_table(["what", "seconds", "documents/s", "MB/s", "server peak RSS MB"], rows))
    rate = zip_s / api_s
    print(f"\nrate: {rate:.0%} of zip -0 (target ≥ 80 %: {'met' if rate >= 0.8 else 'missed'}); "
          f"peak RSS {peak / MB:.0f} MB (target < 150 MB: "
          f"{'met' if peak < 150 * MB else 'missed'})")
    print("\nMemory, a fresh server for each export:\n")
    print(markdown_table(
        ["documents", "archive MB", "server idle MB", "server peak MB", "growth MB"],
        [[f"{n:,}", f"{received / MB:.0f}", f"{rest / MB:.1f}", f"{top / MB:.1f}",
          f"{(top - rest) / MB:.1f}"] for n, received, rest, top in flat]))
    (first, _, idle_1, peak_1), (last, _, idle_n, peak_n) = flat[0], flat[-1]
    slope = ((peak_n - idle_n) - (peak_1 - idle_1)) / (last - first)
    print(f"\ngrowth from {first:,} to {last:,} documents: {slope / 1024:.2f} kB per document")


if __name__ == "__main__":
    main()
