"""`iportal ingest` end to end, in documents per second, against pypdf's floor.

    .venv/bin/python bench/ingest.py [--n 10000] [--n-facturx 2000] [--repeat 2]

Builds N invoice PDFs (a third of them two pages, 200 client numbers of DL2) in a
folder with a manifest.csv, and a Factur-X set whose buyer reference is the client
code; both are cached in bench/out/ by N. Every ingest is its own process on a
freshly migrated database and an empty data folder (all removed after the last
run), timed from start to exit. The floor is pypdf alone, one loop on one core: open, count
pages, extract page 1's text (for Factur-X: pull the attachment).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from multiprocessing import Pool
from pathlib import Path
from urllib.parse import urlsplit

from iportal.demo.pdfs import InvoicePage, render_invoice

OUT = Path(__file__).resolve().parent / "out"
IPORTAL = str(Path(sys.executable).parent / "iportal")
TASKSET = shutil.which("taskset")
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
CLIENTS = 200
CENT = Decimal("0.01")
# EN 16931 CII after tests/documents/fixtures/make_fixtures.py; its buyer reference is the
# client code, so ingest finds the client number without a manifest.
CII = (Path(__file__).resolve().parent / "facturx-cii.xml").read_text()
COLUMNS = ("file", "client_code", "type", "number", "issue_date", "due_date", "currency",
           "amount_excl_vat", "vat_amount", "amount_incl_vat")
FLOOR = """
import sys
from pathlib import Path
from pypdf import PdfReader
for path in sorted(Path(sys.argv[2]).glob("*.pdf")):
    reader = PdfReader(path)
    if sys.argv[1] == "text":
        len(reader.pages)
        reader.pages[0].extract_text()
    else:
        reader.attachments["factur-x.xml"][0]
"""
# --- data ------------------------------------------------------------------------------------


def _page(i: int, facturx: bool) -> tuple[InvoicePage, int]:
    """Document i's page and page count; the same i always gives the same document."""
    rng = random.Random(i * 2 + facturx)
    code = f"DL2{rng.randrange(CLIENTS) + 1:07d}"
    issued = date(2019, 1, 1) + timedelta(days=rng.randrange(7 * 365))
    count = rng.randrange(1, 6)
    lines = tuple((f"Lease {rng.choice('ABCDEFGH')}-{rng.randrange(100, 999)}, month "
                   f"{issued:%Y-%m}", Decimal(rng.randrange(1500, 250000)) * CENT)
                  for _ in range(count))
    excl = sum((amount for _, amount in lines), Decimal(0))
    rate = Decimal(21) if facturx or rng.random() < 0.8 else Decimal(6)
    vat = (excl * rate / 100).quantize(CENT)
    page = InvoicePage(
        "Demo Lease NV", "Wetstraat 1, 1000 Brussel", f"Client {code[3:]} BV", code,
        "credit_note" if not facturx and rng.random() < 0.1 else "invoice",
        f"{'FX' if facturx else 'F'}{issued:%Y}-{i:06d}", issued, issued + timedelta(days=30),
        "EUR", lines, rate, excl, vat, excl + vat,
    )
    return page, 2 if i % 3 == 2 and not facturx else 1


def _make_invoice(args: tuple[int, str]) -> dict[str, str]:
    import io

    from pypdf import PdfReader, PdfWriter

    i, folder = args
    page, pages = _page(i, facturx=False)
    pdf = render_invoice(page)
    if pages == 2:  # a page of usage details, as leasing invoices have
        detail = render_invoice(replace(page, lines=page.lines * 6))
        writer = PdfWriter()
        for part in (pdf, detail):
            writer.append(PdfReader(io.BytesIO(part)))
        buffer = io.BytesIO()
        writer.write(buffer)
        pdf = buffer.getvalue()
    name = f"{page.number}.pdf"
    (Path(folder) / name).write_bytes(pdf)
    values = (name, page.client_code, page.document_type, page.number, page.issue_date,
              page.due_date, page.currency, page.amount_excl_vat, page.vat_amount,
              page.amount_incl_vat)
    return {column: str(value) for column, value in zip(COLUMNS, values, strict=True)}


def _make_facturx(args: tuple[int, str]) -> dict[str, str]:
    """No manifest row: the CII's buyer reference names the client number."""
    import facturx

    i, folder = args
    page, _ = _page(i, facturx=True)
    assert page.due_date is not None
    xml = CII.format(number=page.number, issued=f"{page.issue_date:%Y%m%d}",
                     due=f"{page.due_date:%Y%m%d}", code=page.client_code,
                     company=page.company_name, net=page.amount_excl_vat, rate=page.vat_rate,
                     vat=page.vat_amount, gross=page.amount_incl_vat)
    pdf = facturx.generate_from_binary(render_invoice(page), xml.encode(), flavor="factur-x",
                                       level="en16931", check_xsd=False)
    (Path(folder) / f"{page.number}.pdf").write_bytes(pdf)
    return {}


def build(kind: str, n: int) -> Path:
    """The folder of n documents, generated once (in parallel) and then reused."""
    folder = OUT / f"{kind}-{n}"
    if folder.exists():
        return folder
    partial = OUT / f"{kind}-{n}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    started = time.perf_counter()
    maker = _make_invoice if kind == "invoices" else _make_facturx
    with Pool() as pool:
        rows = pool.map(maker, [(i, str(partial)) for i in range(n)], chunksize=64)
    if kind == "invoices":
        _manifest(partial, rows)
    partial.rename(folder)
    print(f"built {folder.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder


def first(folder: Path, n: int) -> Path:
    """The manifest's first n documents in a folder of their own (hard links)."""
    subset = folder.with_name(f"{folder.name}-first-{n}")
    if not subset.exists():
        partial = subset.with_name(subset.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        with (folder / "manifest.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))[:n]
        for row in rows:
            os.link(folder / row["file"], partial / row["file"])
        _manifest(partial, rows)
        partial.rename(subset)
    return subset


def _manifest(folder: Path, rows: list[dict[str, str]]) -> None:
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


# --- a portal of its own per run -------------------------------------------------------------


async def _sql(url: str, statement: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(statement) or 0)
    finally:
        await connection.close()


# Databases and data folders of the runs, removed after the last one: on ext4 without a
# journal (this machine's disk) creating a file scans past every inode deleted in the last
# minute or more, so a run right after another's clean-up paid several seconds more.
leftovers: list[tuple[str, Path]] = []


@contextmanager
def portal(server: str) -> Iterator[dict[str, str]]:
    """An empty, migrated database with issuer DL2 and its client numbers; a fresh data dir."""
    name = f"iportal_bench_ingest_{os.getpid()}_{time.monotonic_ns()}"
    url = urlsplit(server)._replace(path=f"/{name}").geturl()
    data = Path(tempfile.mkdtemp(prefix="iportal-bench-ingest-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_")}
    env.update(DATABASE_URL=url, IPORTAL_DATA_DIR=str(data / "var"))
    asyncio.run(_sql(server, f'CREATE DATABASE "{name}"'))
    leftovers.append((name, data))
    subprocess.run([IPORTAL, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([IPORTAL, "issuer", "create", "DL2", "Demo Lease NV"], env=env,
                   check=True, capture_output=True)
    asyncio.run(_sql(url, "INSERT INTO client_number (issuer_id, client_code, company_name, "
                     "email, contract_start) SELECT i.id, 'DL2' || lpad(n::text, 7, '0'), "
                     "'Client ' || n || ' BV', 'c' || n || '@example.test', '2015-01-01' "
                     f"FROM issuer i, generate_series(1, {CLIENTS}) n"))
    yield env


def clean_up(server: str) -> None:
    while leftovers:
        name, data = leftovers.pop()
        asyncio.run(_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(data, ignore_errors=True)


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Timing:
    seconds: float
    peak_mb: float | None  # the largest process (GNU time's %M)
    tree_mb: float | None = None  # the sum over the process tree, polled every 50 ms


idle_wait = 180.0  # seconds; --idle-wait
pin_database = True  # --database-free turns it off


def quiet() -> None:
    """Wait a while for the (shared) machine to be idle, so other jobs skew a run less."""
    import psutil

    deadline = time.monotonic() + idle_wait
    while psutil.cpu_percent(interval=2) > 15:
        if time.monotonic() > deadline:
            return say("the machine stayed busy: this run shares it")


def timed(command: list[str], env: dict[str, str], cores: str, poll: bool = False) -> Timing:
    """Run `command` pinned to `cores`: wall clock from start to exit, and peak memory."""
    import psutil

    quiet()
    with tempfile.TemporaryDirectory() as scratch:
        prefix = [TIME, "-f", "%M", "-o", f"{scratch}/maxrss"] if TIME else []
        prefix += ["taskset", "-c", cores] if TASKSET else []
        samples = [0]
        with open(f"{scratch}/log", "wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen([*prefix, *command], env=env, stdout=log, stderr=log)
            while (poll or not TIME) and process.poll() is None:
                try:
                    root = psutil.Process(process.pid)
                    tree = [root, *root.children(recursive=True)]
                    samples.append(sum(p.memory_info().rss for p in tree))
                except psutil.Error:
                    pass  # a process ended between listing and reading
                time.sleep(0.05)
            process.wait()
            seconds = time.perf_counter() - started
        tree_mb = max(samples) / 2**20 if poll or not TIME else None
        peak = int(Path(scratch, "maxrss").read_text().split()[-1]) / 1024 if TIME else tree_mb
        return Timing(seconds, peak, tree_mb)


def floor(folder: Path, kind: str) -> Timing:
    return timed([sys.executable, "-c", FLOOR, kind, str(folder)], dict(os.environ), "0")


@contextmanager
def database_on(cores: set[int]) -> Iterator[None]:
    """PostgreSQL's processes on `cores` for the run (its new backends are forked by the
    postmaster, so they follow it): `--jobs 1` measures the whole ingest, database
    included, on one core. Where they cannot be moved (not ours, no permission), the
    run says so and measures them free."""
    import psutil

    moved: list[tuple[psutil.Process, list[int]]] = []
    try:
        for process in psutil.process_iter(["name"]):
            if process.info["name"] in ("postgres", "postmaster"):
                try:
                    moved.append((process, process.cpu_affinity()))
                    process.cpu_affinity(sorted(cores))
                except psutil.Error:
                    pass
        if not moved:
            say("PostgreSQL's processes could not be pinned: they run on any core")
        yield
    finally:
        for process, before in moved:
            with suppress(psutil.Error):
                process.cpu_affinity(before)


def ingest(server: str, folder: Path, jobs: int, poll: bool = False) -> tuple[Timing, int]:
    """One run on a fresh portal: its timing and how many documents it published."""
    with portal(server) as env:
        cores = ",".join(str(core) for core in range(jobs))
        with database_on(set(range(jobs)) if pin_database else set(range(os.cpu_count() or 1))):
            command = [IPORTAL, "ingest", str(folder), "--jobs", str(jobs)]
            timing = timed(command, env, cores, poll)
        return timing, asyncio.run(_sql(env["DATABASE_URL"], "SELECT count(*) FROM document"))


def median(timings: list[Timing]) -> Timing:
    peaks = [t.peak_mb for t in timings if t.peak_mb is not None]
    return Timing(statistics.median(t.seconds for t in timings), max(peaks, default=None))


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Row:
    run: str
    files: int
    timing: Timing
    floor_rate: float  # documents per second of the floor this run compares with
    target: str = ""

    @property
    def rate(self) -> float:
        return self.files / self.timing.seconds


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-facturx", type=int, default=None, help="default: N/5")
    parser.add_argument("--repeat", type=int, default=2, help="runs of 2 and 3 (median)")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--idle-wait", type=float, default=180, help="seconds to wait before "
                        "each run for the machine to be idle (it may be shared)")
    parser.add_argument("--database-free", action="store_true", help="leave PostgreSQL on "
                        "every core (by default it gets the run's cores: --jobs 1, core 0)")
    args = parser.parse_args()
    global idle_wait, pin_database
    idle_wait, pin_database = args.idle_wait, not args.database_free
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # drop the databases on the way out
    n, server = args.n, args.database_url
    try:
        run(args, n, server)
    finally:
        clean_up(server)


def run(args: argparse.Namespace, n: int, server: str) -> None:
    if not TASKSET:
        say("taskset is missing: runs are not pinned to cores")
    invoices = build("invoices", n)
    facturx = build("facturx", args.n_facturx or n // 5)

    say(f"floor, then ingest --jobs 1 and --jobs 2, {args.repeat} times each")
    floors = [floor(invoices, "text") for _ in range(args.repeat)]
    one: list[tuple[Timing, int]] = []
    two: list[tuple[Timing, int]] = []
    for _ in range(args.repeat):
        one.append(ingest(server, invoices, 1))
        two.append(ingest(server, invoices, 2))
    say("seconds: floor {}, --jobs 1 {}, --jobs 2 {}".format(
        *(", ".join(f"{t.seconds:.1f}" for t in runs)
          for runs in (floors, [t for t, _ in one], [t for t, _ in two]))))
    base = Row("1 floor: pypdf page-1 text, core 0", n, median(floors), 0)
    base.floor_rate = base.rate
    where = "core 0, PostgreSQL too" if pin_database else "core 0"
    single = Row(f"2 ingest --jobs 1, {where}", min(c for _, c in one),
                 median([t for t, _ in one]), base.rate)
    double = Row("3 ingest --jobs 2, cores 0-1", min(c for _, c in two),
                 median([t for t, _ in two]), base.rate)
    ratio, speedup = single.rate / base.rate, double.rate / single.rate
    single.target = f"≥ 0.50 × floor: {_verdict(ratio >= 0.5)}"
    double.target = f"≥ 1.7 × run 2: {speedup:.2f}× {_verdict(speedup >= 1.7)}"

    say("Factur-X")
    fx_floor = Row("4a floor: pypdf attachment, core 0", len(list(facturx.glob("*.pdf"))),
                   floor(facturx, "attachment"), 0)
    fx_floor.floor_rate = fx_floor.rate
    fx_timing, fx_count = ingest(server, facturx, 2)
    fx = Row("4b Factur-X ingest --jobs 2", fx_count, fx_timing, fx_floor.rate, "informative")

    memory: list[Row] = []
    for size in (n // 4, n // 2, n):
        say(f"memory at {size:,} documents")
        timing, count = ingest(server, first(invoices, size) if size < n else invoices, 2, True)
        memory.append(Row("5 memory: ingest --jobs 2", count, timing, base.rate))
    report(n, [base, single, double, fx_floor, fx, *memory], ratio, speedup)
    if any(count != n for _, count in one + two):
        say("not every document was published: see the files column")


def report(n: int, rows: list[Row], ratio: float, speedup: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"iportal ingest, {n:,} documents, {os.cpu_count()} cores, "
                  f"{time.strftime('%Y-%m-%d')}")
    for column in ("run", "files", "seconds", "docs/s", "floor docs/s", "ratio", "target",
                   "peak MB", "tree MB"):
        table.add_column(column, justify="left" if column in ("run", "target") else "right")
    for row in rows:
        table.add_row(row.run, f"{row.files:,}", f"{row.timing.seconds:.1f}", f"{row.rate:,.0f}",
                      f"{row.floor_rate:,.0f}", f"{row.rate / row.floor_rate:.2f}", row.target,
                      _mb(row.timing.peak_mb), _mb(row.timing.tree_mb))
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    console.print(f"--jobs 1 at ≥ 0.50 × the floor: {ratio:.2f}: {_verdict(ratio >= 0.5)}")
    console.print(f"--jobs 2 at ≥ 1.7 × --jobs 1: {speedup:.2f}: {_verdict(speedup >= 1.7)}")
    memory = [row.timing for row in rows if row.run.startswith("5")]
    for what, peaks in (("largest process", [t.peak_mb or 0 for t in memory]),
                        ("process tree", [t.tree_mb or 0 for t in memory])):
        growth = max(peaks) / min(peaks) if min(peaks) else float("nan")
        console.print(f"memory flat ({what}): {' / '.join(_mb(p) for p in peaks)} MB, "
                      f"largest / smallest {growth:.2f} (≤ 1.15): {_verdict(growth <= 1.15)}")


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def _mb(value: float | None) -> str:
    return f"{value:,.0f}" if value else ""


if __name__ == "__main__":
    main()
