"""`iportal ingest`: publish PDFs, Factur-X PDFs, UBL files, folders and ZIPs in bulk.

Files are checked by sandboxed worker processes (all cores by default), which
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
import itertools
import os
import zipfile
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iportal.documents.publishing.clients import ClientNumbers
from iportal.documents.publishing.inspection import (
    DAMAGED_IN_ZIP,
    TOO_LONG,
    ZIP_DAMAGE,
    Candidate,
    FileLimits,
    Job,
    Rejection,
    Source,
    inspect,
)
from iportal.documents.publishing.recording import (
    CONFLICT,
    REJECTED,
    Outcome,
    publish_batch,
    rejected,
)
from iportal.documents.sandbox import TaskTimedOut, Workers
from iportal.documents.storage import BlobStore, StagedBlob
from iportal.i18n import N_

if TYPE_CHECKING:
    from iportal.accounts.services import IssuerPrincipal
    from iportal.settings import Settings

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
CHUNK = 16  # files a worker reads per task
CHUNKS_IN_FLIGHT_PER_JOB = 4  # a worker runs one, the next waits in its pipe
NOT_IN_ARCHIVE = N_("manifest.csv row %(row)s: the file “%(file)s” is not in the archive.")
BATCH = 64  # documents per transaction: round trips and the blobs' flush are shared
QUEUED_BATCHES = 16  # inspected, waiting to be recorded (their bytes are staged on disk)
MERGED_BATCHES = 4  # recorded together, in one transaction, when they are waiting


@dataclass(frozen=True)
class Item:
    """One file to publish, or a line of a manifest that cannot be one."""

    source: Source
    metadata: dict[str, str] | None = None
    problem: tuple[str, Mapping[str, object]] | None = None  # a message, its parameters


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
    # One listing of the folder answers "is it a plain file here?" for every manifest
    # row; only a name with a separator or a symlink needs the path resolved.
    entries = {entry.name: entry for entry in os.scandir(folder)}
    manifest = folder / MANIFEST
    named: set[str] = set()
    if MANIFEST in entries:
        text = manifest.read_text(encoding="utf-8-sig")
        for line, row in _manifest_rows(text, str(manifest)):
            named.add(row["file"])
            if _inside(folder, entries, row["file"]):
                path = folder / row["file"]
                yield Item(Source(str(path), path=str(path)), row)
            else:
                yield Item(
                    Source(f"{manifest}:{line}"),
                    problem=(
                        N_("manifest.csv row %(row)s: the file “%(file)s” is not in the folder."),
                        {"row": line, "file": row["file"]},
                    ),
                )
    for name in sorted(entries):
        entry = entries[name]
        if entry.is_dir():
            yield from _folder_items(Path(entry.path))
        elif name.lower().endswith(DOCUMENT_SUFFIXES) and name not in named:
            yield Item(Source(entry.path, path=entry.path))


def _inside(folder: Path, entries: dict[str, os.DirEntry[str]], name: str) -> bool:
    """Whether the manifest's `name` is a file within `folder` (no way out by `..`,
    an absolute path or a symlink)."""
    entry = entries.get(name)
    if entry is not None and entry.is_file(follow_symlinks=False):
        return True
    path = folder / name
    return bool(name) and path.is_file() and folder.resolve() in path.resolve().parents


def _zip_items(archive_path: Path) -> Iterator[Item]:
    with zipfile.ZipFile(archive_path) as archive:
        members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        named: set[str] = set()
        if MANIFEST in members:
            try:
                text = archive.read(MANIFEST).decode("utf-8-sig")
            except ZIP_DAMAGE as error:
                # Without its manifest no member would be published as the issuer meant.
                reason = str(error) or type(error).__name__
                yield Item(
                    Source(f"{archive_path}:{MANIFEST}"),
                    problem=(DAMAGED_IN_ZIP, {"reason": reason}),
                )
                return
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
    """One run: sandboxed workers, a window of files in flight, outcomes in order."""

    def __init__(
        self,
        resolve_issuer: Callable[[Candidate], Any],
        blobs: BlobStore,
        settings: Settings,
        workers: Workers,
        limits: FileLimits,
        today: date,
        language: str = "en",
        numbers: ClientNumbers | None = None,
        check: Callable[[Job], Candidate | Rejection] = inspect,
    ) -> None:
        self.resolve_issuer = resolve_issuer
        self.blobs = blobs
        self.settings = settings
        self.workers = workers
        self.limits = limits
        self.today = today
        self.language = language
        self.numbers = numbers or ClientNumbers()
        self.check = check  # what a worker does with a file

    async def _inspected(self, items: Iterator[Item]) -> AsyncIterator[tuple[Item, Any]]:
        chunks = _chunks(items, CHUNK)
        window = self.workers.jobs * CHUNKS_IN_FLIGHT_PER_JOB
        pending: deque[tuple[list[Item], asyncio.Future[Any] | None]] = deque()
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < window:
                chunk = next(chunks, None)
                if chunk is None:
                    exhausted = True
                    break
                pending.append((chunk, self._submit(chunk)))
            if not pending:
                break
            chunk, future = pending.popleft()
            try:
                results = await self._results(chunk, future)
            except TaskTimedOut:
                # Its worker was replaced. The chunk goes again file by file, ahead of
                # everything waiting, so that only the culprit is turned away.
                if len(chunk) > 1:
                    pending.extendleft(
                        ([item], self._submit([item], first=True)) for item in reversed(chunk)
                    )
                    continue
                results = [Rejection(chunk[0].source.name, TOO_LONG)]
            for item, result in zip(chunk, results, strict=True):
                yield item, result

    def _submit(self, chunk: list[Item], first: bool = False) -> asyncio.Future[Any] | None:
        calls = [
            (Job(item.source, item.metadata, self.limits, self.today, self.blobs),)
            for item in chunk
            if not item.problem
        ]
        return self.workers.submit(self.check, calls, first=first) if calls else None

    async def _results(self, chunk: list[Item], future: asyncio.Future[Any] | None) -> list[Any]:
        """Each item's worker result in order; None for an item with a problem."""
        results = iter(await future if future else [])
        out: list[Any] = []
        for item in chunk:
            if item.problem:
                out.append(None)
                continue
            result = next(results)
            if isinstance(result, TaskTimedOut):
                result = Rejection(item.source.name, TOO_LONG)
            elif isinstance(result, Exception):
                raise result
            out.append(result)
        return out

    async def _record(self, batch: list[tuple[Item, Any]]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(batch)
        publishable: list[tuple[int, IssuerPrincipal, Candidate | Rejection]] = []
        unclaimed: list[StagedBlob] = []  # staged for a document no issuer claims
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
                unclaimed += result.staged
                outcomes[index] = _no_issuer(result, self.language)
            else:
                publishable.append((index, issuer, result))
        await self.blobs.discard(unclaimed)
        published = await publish_batch(
            [(issuer, result) for _, issuer, result in publishable],
            self.blobs,
            self.settings,
            self.numbers,
        )
        for (index, _, _), outcome in zip(publishable, published, strict=True):
            outcomes[index] = outcome
        return [outcome for outcome in outcomes if outcome is not None]

    async def run(self, items: Iterator[Item]) -> AsyncIterator[Outcome]:
        """Outcomes in the files' order, a batch at a time. The files are read on by a
        task of their own while a batch is recorded, so the workers never wait for
        the database; batches that wait meanwhile (the first ones invite every new
        client number, a few milliseconds each) are then recorded together."""
        queue: asyncio.Queue[list[tuple[Item, Any]] | None] = asyncio.Queue(QUEUED_BATCHES)
        reading = asyncio.create_task(self._batches(items, queue))
        try:
            last = False
            while not last and (batch := await queue.get()) is not None:
                while len(batch) < BATCH * MERGED_BATCHES and not queue.empty():
                    more = queue.get_nowait()
                    if more is None:
                        last = True
                        break
                    batch += more
                for outcome in await self._record(batch):
                    yield outcome
            await reading  # its exception, if it had one
        finally:
            reading.cancel()

    async def _batches(
        self, items: Iterator[Item], queue: asyncio.Queue[list[tuple[Item, Any]] | None]
    ) -> None:
        batch: list[tuple[Item, Any]] = []
        try:
            async for inspected in self._inspected(items):
                batch.append(inspected)
                if len(batch) >= BATCH:
                    await queue.put(batch)
                    batch = []
            if batch:
                await queue.put(batch)
        except asyncio.CancelledError:
            raise
        except BaseException:
            await queue.put(None)  # the recorder stops, then re-raises this
            raise
        await queue.put(None)


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


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


def report_row(outcome: Outcome) -> dict[str, str]:
    """The line of `--report`'s CSV for one file, by column."""
    fields = outcome.candidate.fields if outcome.candidate else None
    return {
        "file": outcome.name,
        "status": outcome.status,
        "client_code": outcome.client_code or "",
        "type": fields.type if fields else "",
        "number": fields.number if fields else "",
        "issue_date": fields.issue_date.isoformat() if fields else "",
        "amount_incl_vat": str(fields.amount_incl_vat) if fields else "",
        "document_id": str(outcome.document_id or ""),
        "reason": outcome.reason,
    }
