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
import itertools
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from iportal.documents.publishing.clients import ClientNumbers
from iportal.documents.publishing.inspection import (
    TOO_LONG,
    Candidate,
    FileLimits,
    Job,
    Rejection,
    inspect,
)
from iportal.documents.publishing.recording import (
    CONFLICT,
    REJECTED,
    Outcome,
    publish_batch,
    rejected,
)
from iportal.documents.publishing.sources import Item
from iportal.documents.sandbox import TaskTimedOut, Workers
from iportal.documents.storage import BlobStore, StagedBlob
from iportal.i18n import N_

if TYPE_CHECKING:
    from iportal.accounts.services import IssuerPrincipal
    from iportal.settings import Settings

CHUNK = 16  # files a worker reads per task
CHUNKS_IN_FLIGHT_PER_JOB = 4  # a worker runs one, the next waits in its pipe
BATCH = 64  # documents per transaction: round trips and the blobs' flush are shared
QUEUED_BATCHES = 16  # inspected, waiting to be recorded (their bytes are staged on disk)
MERGED_BATCHES = 4  # recorded together, in one transaction, when they are waiting


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
            self.language,
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
    "warnings",
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
        "warnings": " ".join(outcome.warnings),
    }
