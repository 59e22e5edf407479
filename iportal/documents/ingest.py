"""`iportal ingest`: publish PDFs, Factur-X PDFs, UBL files, folders and ZIPs in bulk.

Files are checked by a pool of sandboxed workers (all cores by default), which
also stage the bytes of what passed in the blob store; this process records the
results in batches, one transaction each, while the workers go on with the next
files. The key (client number, type, number) makes a repeat a no-op, so a run
killed half-way and run again publishes the rest and duplicates nothing. Memory
stays flat: only a bounded window of files is in flight, and their bytes stay
in the workers.
"""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from iportal.accounts.services import IssuerPrincipal
from iportal.documents.blobs import BlobStore
from iportal.documents.inspection import Candidate, FileLimits, Job, Rejection, Source, inspect
from iportal.documents.publishing import (
    ALREADY_PUBLISHED,
    CONFLICT,
    PUBLISHED,
    REJECTED,
    ClientNumbers,
    Outcome,
    publish_batch,
    rejected,
)
from iportal.documents.sandbox import Sandbox, TaskTimedOut
from iportal.i18n import N_

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = (
    "file",
    "client_code",
    "type",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
)
DOCUMENT_SUFFIXES = (".pdf", ".xml")
IN_FLIGHT_PER_JOB = 16
NOT_IN_ARCHIVE = N_("manifest.csv row %(row)s: the file “%(file)s” is not in the archive.")
BATCH = 64  # documents per transaction: round trips and the blobs' flush are shared


@dataclass(frozen=True)
class Item:
    """One file to publish, or a line of a manifest that cannot be one."""

    source: Source
    metadata: dict[str, str] | None = None
    problem: tuple[str, dict[str, Any]] | None = None


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.status in (REJECTED, CONFLICT):
            self.reasons[outcome.reason_key or outcome.reason] += 1

    @property
    def failed(self) -> int:
        return self.counts[REJECTED] + self.counts[CONFLICT]


def _manifest_rows(text: str, where: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("file",) if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{where}: the manifest has no “file” column")
    for row in reader:
        yield reader.line_num, {k: (v or "") for k, v in row.items() if k}


def _folder_items(folder: Path) -> Iterator[Item]:
    manifest = folder / MANIFEST
    named: set[str] = set()
    if manifest.exists():
        text = manifest.read_text(encoding="utf-8-sig")
        for line, row in _manifest_rows(text, str(manifest)):
            name = f"{manifest}:{line}"
            path = folder / row["file"]
            named.add(row["file"])
            if (
                not row["file"]
                or not path.is_file()
                or folder.resolve() not in path.resolve().parents
            ):
                yield Item(
                    Source(name),
                    problem=(
                        N_("manifest.csv row %(row)s: the file “%(file)s” is not in the folder."),
                        {"row": line, "file": row["file"]},
                    ),
                )
            else:
                yield Item(Source(f"{path}", path=str(path)), row)
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            yield from _folder_items(path)
        elif path.suffix.lower() in DOCUMENT_SUFFIXES and path.name not in named:
            yield Item(Source(str(path), path=str(path)))


def _zip_items(archive_path: Path) -> Iterator[Item]:
    with zipfile.ZipFile(archive_path) as archive:
        members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        named: set[str] = set()
        if MANIFEST in members:
            text = archive.read(MANIFEST).decode("utf-8-sig")
            for line, row in _manifest_rows(text, f"{archive_path}:{MANIFEST}"):
                named.add(row["file"])
                if row["file"] not in members:
                    yield Item(
                        Source(f"{archive_path}:{MANIFEST}:{line}"),
                        problem=(
                            NOT_IN_ARCHIVE,
                            {"row": line, "file": row["file"]},
                        ),
                    )
                else:
                    yield Item(
                        Source(
                            f"{archive_path}:{row['file']}",
                            path=str(archive_path),
                            member=row["file"],
                        ),
                        row,
                    )
        for name in sorted(members):
            if name.lower().endswith(DOCUMENT_SUFFIXES) and name not in named:
                yield Item(Source(f"{archive_path}:{name}", path=str(archive_path), member=name))


def collect(paths: list[Path]) -> Iterator[Item]:
    """Every file the given paths hold, with its manifest row where there is one."""
    for path in paths:
        if path.is_dir():
            yield from _folder_items(path)
        elif path.suffix.lower() == ".zip":
            try:
                yield from _zip_items(path)
            except zipfile.BadZipFile:
                yield Item(
                    Source(str(path)), problem=(N_("This is not a readable ZIP archive."), {})
                )
        elif path.is_file():
            yield Item(Source(str(path), path=str(path)))
        else:
            yield Item(Source(str(path)), problem=(N_("There is no such file or folder."), {}))


class Ingest:
    """One run: a sandbox of workers, a window of files in flight, outcomes in order."""

    def __init__(
        self,
        resolve_issuer: Callable[[Candidate], Any],
        blobs: BlobStore,
        base_url: str,
        sandbox: Sandbox,
        limits: FileLimits,
        today: date,
        language: str = "en",
        numbers: ClientNumbers | None = None,
    ) -> None:
        self.resolve_issuer = resolve_issuer
        self.blobs = blobs
        self.base_url = base_url
        self.sandbox = sandbox
        self.limits = limits
        self.today = today
        self.language = language
        self.numbers = numbers or ClientNumbers()

    async def _inspected(self, items: Iterator[Item]) -> AsyncIterator[tuple[Item, Any]]:
        window = self.sandbox.jobs * IN_FLIGHT_PER_JOB
        pending: deque[tuple[Item, asyncio.Future[Any] | None]] = deque()
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < window:
                item = next(items, None)
                if item is None:
                    exhausted = True
                    break
                pending.append((item, None if item.problem else self._submit(item)))
            if not pending:
                break
            item, result = pending.popleft()
            if result is None:
                yield item, None
                continue
            try:
                yield item, await self.sandbox.wait_future(result)
            except TaskTimedOut:
                # The pool was replaced: what was in flight must be sent again.
                pending = deque((i, None if i.problem else self._submit(i)) for i, _ in pending)
                yield (
                    item,
                    Rejection(
                        item.source.name, N_("Reading the file took too long; it was stopped.")
                    ),
                )

    def _submit(self, item: Item) -> asyncio.Future[Any]:
        job = Job(item.source, item.metadata, self.limits, self.today, self.blobs)
        return self.sandbox.submit_future(inspect, job)

    async def _record(self, batch: list[tuple[Item, Any]]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(batch)
        publishable: list[tuple[int, IssuerPrincipal, Candidate | Rejection]] = []
        for index, (item, result) in enumerate(batch):
            if result is None:
                assert item.problem is not None
                message, params = item.problem
                outcomes[index] = rejected(item.source.name, self.language, message, params)
            elif isinstance(result, Rejection):
                outcomes[index] = rejected(
                    result.name, self.language, result.message, result.params
                )
            elif (issuer := await self.resolve_issuer(result)) is None:
                self.blobs.discard(result.staged)
                outcomes[index] = _no_issuer(result, self.language)
            else:
                publishable.append((index, issuer, result))
        published = await publish_batch(
            [(issuer, result) for _, issuer, result in publishable],
            self.blobs,
            self.base_url,
            self.numbers,
        )
        for (index, _, _), outcome in zip(publishable, published, strict=True):
            outcomes[index] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    async def run(self, items: Iterator[Item]) -> AsyncIterator[Outcome]:
        """Outcomes in the files' order, a batch at a time; the next batch is gathered
        while the previous one is being recorded."""
        batch: list[tuple[Item, Any]] = []
        recording: asyncio.Task[list[Outcome]] | None = None
        async for item, result in self._inspected(items):
            batch.append((item, result))
            if len(batch) >= BATCH:
                if recording is not None:
                    for outcome in await recording:
                        yield outcome
                recording = asyncio.create_task(self._record(batch))
                batch = []
        if recording is not None:
            for outcome in await recording:
                yield outcome
        for outcome in await self._record(batch):
            yield outcome


def _no_issuer(candidate: Candidate, language: str) -> Outcome:
    return rejected(
        candidate.name,
        language,
        N_("No issuer has this document's client number (%(reference)s)."),
        {"reference": candidate.client_code or ", ".join(candidate.buyer_references) or "—"},
    )


REPORT_COLUMNS = (
    "file",
    "status",
    "client_code",
    "type",
    "number",
    "issue_date",
    "amount_incl_vat",
    "document_id",
    "reason",
)


def report_row(outcome: Outcome) -> dict[str, Any]:
    fields = outcome.candidate.fields if outcome.candidate else None
    return {
        "file": outcome.name,
        "status": outcome.status,
        "client_code": outcome.client_code or "",
        "type": fields.type if fields else "",
        "number": fields.number if fields else "",
        "issue_date": fields.issue_date.isoformat() if fields else "",
        "amount_incl_vat": str(fields.amount_incl_vat) if fields else "",
        "document_id": outcome.document_id or "",
        "reason": outcome.reason,
    }


__all__ = ["ALREADY_PUBLISHED", "PUBLISHED", "Ingest", "Item", "Summary", "collect"]
