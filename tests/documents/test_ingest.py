"""`iportal ingest` as an operator runs it: folders and ZIPs with a manifest, a report,
an exit status that tells, and a batch killed half-way that is simply run again."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests import factories
from tests.conftest import _create_database, _drop_database

MANIFEST_HEADER = (
    "file,client_code,type,number,issue_date,due_date,currency,"
    "amount_excl_vat,vat_amount,amount_incl_vat\n"
)


def iportal(*args: str) -> list[str]:
    return [sys.executable, "-m", "iportal", *args]


def ingest(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`iportal ingest ARGS…` run to its end, its output kept."""
    return subprocess.run(
        iportal("ingest", *args), env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def ingest_db(
    server_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """A database of its own, committed to by the `iportal` processes under test."""
    name = f"iportal_ingest_{os.getpid()}"
    url = asyncio.run(_create_database(server_dsn, name))
    data_dir = tmp_path_factory.mktemp("ingest") / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_")}
    env.update(DATABASE_URL=url, IPORTAL_DATA_DIR=str(data_dir), IPORTAL_SMTP_PORT="1")
    subprocess.run(iportal("migrate"), env=env, check=True, capture_output=True, timeout=120)
    created = subprocess.run(
        iportal("issuer", "create", "DL2", "Demo Lease", "--language", "en"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert created.stdout.strip().startswith("ipk_")
    asyncio.run(_client_numbers(url, [f"DL2{n:07d}" for n in range(1, 6)]))
    yield env
    asyncio.run(_drop_database(server_dsn, name))


async def _client_numbers(url: str, codes: list[str]) -> None:
    connection = await asyncpg.connect(url)
    try:
        issuer_id = await connection.fetchval("SELECT id FROM issuer WHERE prefix = 'DL2'")
        for code in codes:
            await connection.execute(
                "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
                "contract_start) VALUES ($1, $2, 'Client BV', 'c@example.test', '2015-01-01') "
                "ON CONFLICT DO NOTHING",
                issuer_id,
                code,
            )
    finally:
        await connection.close()


async def _count(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


def count(env: dict[str, str], sql: str) -> int:
    return asyncio.run(_count(env["DATABASE_URL"], sql))


def write_batch(folder: Path, prefix: str, n: int, extra_rows: str = "") -> list[Path]:
    folder.mkdir(parents=True)
    lines = [MANIFEST_HEADER]
    files = []
    for i in range(n):
        code = f"DL2{i % 5 + 1:07d}"
        name = f"{prefix}-{i:05d}.pdf"
        (folder / name).write_bytes(factories.invoice_pdf(f"{prefix}-{i:05d}", code))
        lines.append(
            f"{name},{code},invoice,{prefix}-{i:05d},2024-01-31,2024-02-29,EUR,"
            "100.00,21.00,121.00\n"
        )
        files.append(folder / name)
    (folder / "manifest.csv").write_text("".join(lines) + extra_rows)
    return files


def test_a_folder_is_published_with_a_report(ingest_db: dict[str, str], tmp_path: Path) -> None:
    write_batch(
        tmp_path / "batch",
        "A",
        12,
        extra_rows="missing.pdf,DL20000001,invoice,X-1,2024-01-31,,EUR,1.00,0.21,1.21\n",
    )
    (tmp_path / "batch" / "notes.pdf").write_bytes(b"just text, not a PDF")
    report = tmp_path / "report.csv"
    done = ingest(ingest_db, str(tmp_path / "batch"), "--report", str(report))
    assert done.returncode == 1, done.stderr  # something was rejected
    assert "Traceback" not in done.stderr + done.stdout
    rows = list(csv.DictReader(report.open()))
    by_status: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_status.setdefault(row["status"], []).append(row)
    assert len(by_status["published"]) == 12
    reasons = sorted(row["reason"] for row in by_status["rejected"])
    assert any("manifest.csv row 14" in r and "missing.pdf" in r for r in reasons)
    assert any("This is not a PDF" in r for r in reasons)
    assert "published" in done.stderr and "rejected" in done.stderr  # the summary table
    assert count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'A-%'") == 12


def test_running_it_again_publishes_nothing_twice(
    ingest_db: dict[str, str], tmp_path: Path
) -> None:
    write_batch(tmp_path / "batch", "B", 10)
    first = ingest(ingest_db, str(tmp_path / "batch"))
    assert first.returncode == 0, first.stdout + first.stderr
    again = ingest(ingest_db, str(tmp_path / "batch"))
    assert again.returncode == 0
    assert again.stdout.count("already published") == 10  # one plain line a file
    assert count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'B-%'") == 10


def test_a_zip_with_a_manifest(ingest_db: dict[str, str], tmp_path: Path) -> None:
    files = write_batch(tmp_path / "zipped", "Z", 6)
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(tmp_path / "zipped" / "manifest.csv", "manifest.csv")
        for path in files:
            out.write(path, path.name)
    done = ingest(ingest_db, str(archive), "--jobs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'Z-%'") == 6


def test_a_batch_killed_half_way_is_completed_by_running_it_again(
    ingest_db: dict[str, str], tmp_path: Path
) -> None:
    n = 300
    write_batch(tmp_path / "big", "K", n)
    process = subprocess.Popen(
        iportal("ingest", str(tmp_path / "big"), "--jobs", "1"),
        env=ingest_db,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    published = 0
    while time.monotonic() < deadline:
        published = count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'K-%'")
        if published >= n // 4:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < published < n, "the kill must land half-way"
    again = ingest(ingest_db, str(tmp_path / "big"))
    assert again.returncode == 0, again.stderr
    assert count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'K-%'") == n
    assert (
        count(ingest_db, "SELECT count(DISTINCT number) FROM document WHERE number LIKE 'K-%'") == n
    )
    # No orphan rows: every document has its event and a durable blob.
    assert (
        count(
            ingest_db,
            "SELECT count(*) FROM document d WHERE number LIKE 'K-%' AND NOT "
            "EXISTS (SELECT 1 FROM document_event e WHERE e.document_id = d.id)",
        )
        == 0
    )
    blob_dir = Path(ingest_db["IPORTAL_DATA_DIR"]) / "blobs"
    hashes = asyncio.run(_hashes(ingest_db["DATABASE_URL"]))
    assert all((blob_dir / h[:2] / h[2:4] / h).exists() for h in hashes)


async def _hashes(url: str) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT pdf_blob_hash FROM document WHERE number LIKE 'K-%'")
        return [row[0] for row in rows]
    finally:
        await connection.close()


def test_blobs_clean_removes_only_unreferenced_old_blobs(ingest_db: dict[str, str]) -> None:
    blob_dir = Path(ingest_db["IPORTAL_DATA_DIR"]) / "blobs"
    from iportal.documents.storage import FolderBlobStore

    store = FolderBlobStore(blob_dir)
    orphan = asyncio.run(store.put(b"%PDF-1.4 an orphan nobody references"))
    young = asyncio.run(store.put(b"%PDF-1.4 written a moment ago, its row may come"))
    old = time.time() - 3 * 3600
    os.utime(store.path(orphan), (old, old))
    # staged by a run killed before it recorded them: removed once old, kept while young
    stale, fresh = store.stage(b"%PDF-1.4 stale"), store.stage(b"%PDF-1.4 fresh")
    os.utime(stale.path, (old, old))
    referenced = count(ingest_db, "SELECT count(DISTINCT pdf_blob_hash) FROM document")
    done = subprocess.run(
        iportal("blobs", "clean"), env=ingest_db, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "2 unreferenced blob(s) removed" in done.stdout
    assert not asyncio.run(store.exists(orphan)) and asyncio.run(store.exists(young))
    assert not Path(stale.path).exists() and Path(fresh.path).exists()
    assert count(ingest_db, "SELECT count(DISTINCT pdf_blob_hash) FROM document") == referenced


def test_one_run_records_in_batches_each_document_once_with_its_event(
    ingest_db: dict[str, str], tmp_path: Path
) -> None:
    """More files than one batch holds, with repeats inside the run: the key decides
    within a batch as across runs, each new document gets one event, each number one
    waiting invitation, and nothing staged is left behind."""
    codes = [f"DL2{n:07d}" for n in (11, 12, 13)]
    asyncio.run(_client_numbers(ingest_db["DATABASE_URL"], codes))
    folder = tmp_path / "batch"
    folder.mkdir()
    lines = [MANIFEST_HEADER]
    for i in range(70):  # crosses the batch boundary (64)
        code = codes[i % 3]
        (folder / f"R-{i:03d}.pdf").write_bytes(factories.invoice_pdf(f"R-{i:03d}", code))
        row = f"{code},invoice,R-{i:03d},2024-01-31,,EUR,100.00,21.00,121.00\n"
        lines.append(f"R-{i:03d}.pdf,{row}")
        if i in (5, 66):  # the same file again, in the same batch and across batches
            lines.append(f"R-{i:03d}.pdf,{row}")
    (folder / "other.pdf").write_bytes(factories.invoice_pdf("R-007 bis", codes[1]))
    lines.append(f"other.pdf,{codes[1]},invoice,R-007,2024-01-31,,EUR,100.00,21.00,121.00\n")
    (folder / "stranger.pdf").write_bytes(factories.invoice_pdf("S-1", "DL29999999"))
    lines.append("stranger.pdf,DL29999999,invoice,S-1,2024-01-31,,EUR,1.00,0.21,1.21\n")
    (folder / "manifest.csv").write_text("".join(lines))
    report = tmp_path / "report.csv"
    done = ingest(ingest_db, str(folder), "--report", str(report))
    assert done.returncode == 1, done.stdout + done.stderr  # a conflict and an unknown code
    statuses = [(row["file"], row["status"]) for row in csv.DictReader(report.open())]
    assert [s for _, s in statuses].count("published") == 70
    assert [s for _, s in statuses].count("already_published") == 2
    assert (str(folder / "other.pdf"), "conflict") in statuses
    assert (str(folder / "stranger.pdf"), "rejected") in statuses
    assert len(statuses) == 74
    published = "SELECT count(*) FROM document WHERE number LIKE 'R-%'"
    assert count(ingest_db, published) == 70
    assert (
        count(
            ingest_db,
            "SELECT count(*) FROM document d JOIN document_event e ON e.document_id = d.id "
            "WHERE d.number LIKE 'R-%'",
        )
        == 70
    )
    invitations = (
        "SELECT count(*) FROM outbox_email o JOIN client_number c ON c.id = o.client_number_id "
        "WHERE o.template = 'invitation' AND c.client_code IN ('DL20000011', 'DL20000012', "
        "'DL20000013')"
    )
    assert count(ingest_db, invitations) == 3
    # a killed run of another test may have left its own staged files; none are ours
    staging = Path(ingest_db["IPORTAL_DATA_DIR"]) / "blobs" / ".staging"
    staged = {path.name.split("-")[0] for path in staging.iterdir()}
    ours = {hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.glob("*.pdf")}
    assert not staged & ours


def test_a_row_the_database_refuses_costs_only_its_own_document(
    ingest_db: dict[str, str], tmp_path: Path
) -> None:
    """Should the database refuse a document that passed every check (here a rule
    added for the test), the rest of its batch is still published."""
    url = ingest_db["DATABASE_URL"]
    refuse = "ALTER TABLE document ADD CONSTRAINT test_refuse CHECK (number <> 'P-00003')"
    asyncio.run(_execute(url, refuse))
    try:
        write_batch(tmp_path / "batch", "P", 6)
        report = tmp_path / "report.csv"
        done = ingest(ingest_db, str(tmp_path / "batch"), "--report", str(report))
    finally:
        asyncio.run(_execute(url, "ALTER TABLE document DROP CONSTRAINT test_refuse"))
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    rows = {Path(row["file"]).name: row for row in csv.DictReader(report.open())}
    refused = rows["P-00003.pdf"]
    assert refused["status"] == "rejected"
    assert refused["reason"].startswith("The database refused the document:")
    assert "test_refuse" in refused["reason"]
    assert sum(row["status"] == "published" for row in rows.values()) == 5
    assert count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'P-%'") == 5


async def _execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def test_batches_waiting_for_the_recorder_are_recorded_together(tmp_path: Path) -> None:
    """While a batch is recorded the files are read on; the batches that wait meanwhile
    go into the next transaction together (up to four), outcomes still in order."""
    from datetime import date

    from iportal.documents.publishing import FileLimits, Item, Source
    from iportal.documents.publishing import ingest as ingest_module
    from iportal.documents.sandbox import Workers
    from iportal.documents.storage import FolderBlobStore

    sizes: list[int] = []

    class Recorder(ingest_module.Ingest):
        async def _record(self, batch: list[Any]) -> list[Any]:
            sizes.append(len(batch))
            await asyncio.sleep(0.1)  # the other batches are read meanwhile
            return [item.source.name for item, _ in batch]

    n = ingest_module.BATCH * 9 + 5
    # Items a manifest already turned away need no worker: they are read at once.
    items = [Item(Source(f"{i:04d}"), problem=("missing", {})) for i in range(n)]
    run = Recorder(
        None,  # type: ignore[arg-type]
        FolderBlobStore(tmp_path),
        "http://portal.test",
        Workers(jobs=1),
        FileLimits(),
        date(2026, 11, 23),
    )
    names = [name async for name in run.run(iter(items))]
    assert names == [f"{i:04d}" for i in range(n)]
    most = ingest_module.BATCH * ingest_module.MERGED_BATCHES
    assert sizes == [most, most, n - 2 * most]


async def test_a_staged_blob_has_its_folder_ready(tmp_path: Path) -> None:
    """The worker makes the blob's folder as it stages it: the recorder's commit is one
    rename per blob."""
    from iportal.documents.storage import FolderBlobStore

    store = FolderBlobStore(tmp_path / "blobs")
    staged = store.stage(b"%PDF-1.4 a blob")
    assert store.path(staged.digest).parent.is_dir()
    assert not await store.exists(staged.digest)
    await store.commit([staged])
    assert await store.read(staged.digest) == b"%PDF-1.4 a blob"
    assert not Path(staged.path).exists()


# The report's own words, and the messages this run's files bring into it.
REPORT_PHRASES = (
    "published",
    "already published",
    "conflict",
    "rejected",
    "Ingest summary",
    "result",
    "files",
    "Invoice",
    "This is not a PDF: its content does not start like one.",
    "it is declared a PDF but is not one.",
)
LEFT_OUT = "The attachment “%(name)s” was left out: %(reason)s"


def _words_of(message: str, language: str) -> str:
    from iportal.i18n import translate

    # A message with parameters is looked for by its words before the first one.
    return translate(message, language).split("%(")[0].strip() or message


@pytest.mark.parametrize("language", ["nl", "fr", "en", "de"])
def test_the_report_speaks_one_language(
    ingest_db: dict[str, str], tmp_path: Path, language: str
) -> None:
    from tests.documents.test_einvoice_attachments import with_fake_pdf

    folder = tmp_path / "batch"
    write_batch(folder, f"L{language}", 1)
    (folder / "notes.pdf").write_bytes(b"just text, not a PDF")
    ubl = with_fake_pdf().replace(b"UBL-2024-0002<", f"UBL-{language}<".encode())
    (folder / "peppol.xml").write_bytes(ubl.replace(b">DL20012345<", b">DL20000001<"))
    env = {**ingest_db, "COLUMNS": "300"}  # the summary's lines are not wrapped

    done = ingest(env, str(folder), "--jobs", "1", "--lang", language)

    assert done.returncode == 1, done.stdout + done.stderr  # notes.pdf is rejected
    report = done.stdout + done.stderr
    assert "Traceback" not in report
    for message in (*REPORT_PHRASES, LEFT_OUT):
        mine = _words_of(message, language)
        if message not in ("conflict", "already published"):  # no such file in this run
            assert mine in report, (language, mine)
        for other in {"nl", "fr", "en", "de"} - {language}:
            theirs = _words_of(message, other)
            if theirs != mine and theirs not in mine:
                assert theirs not in report, (language, other, theirs)
    assert "UBL-2024-0002.pdf" in done.stdout  # the warning names the attachment
    assert count(ingest_db, f"SELECT count(*) FROM document WHERE number = 'UBL-{language}'") == 1
