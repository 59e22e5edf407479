"""Untrusted files are read in sandboxed workers: a parse that runs away is stopped at
its time limit, one that eats memory at its memory limit, and the workers carry on.
Random, truncated and mutated files always end as a clean result or rejection."""

from __future__ import annotations

import io
import os
import signal
import tempfile
import time
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from iportal.documents.publishing import (
    Candidate,
    FileLimits,
    Ingest,
    Item,
    Job,
    Rejection,
    Source,
    inspect,
)
from iportal.documents.sandbox import Limits, Sandbox, TaskOutOfMemory, TaskTimedOut, Workers
from iportal.documents.storage import FolderBlobStore
from tests import factories
from tests.documents.einvoice_helpers import fixture

LIMITS = FileLimits()
TODAY = date(2026, 11, 23)


def spin() -> None:
    while True:
        pass


def hog() -> int:
    chunks = []
    while True:
        chunks.append(bytearray(50 * 1024 * 1024))


def answer() -> int:
    return 42


@pytest.fixture(scope="module")
def tight() -> Sandbox:
    with Sandbox(jobs=1, limits=Limits(seconds=3.0, memory_bytes=400 * 1024 * 1024)) as box:
        yield box


def test_a_runaway_task_is_stopped_and_the_worker_lives_on(tight: Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(TaskTimedOut):
        tight.wait(tight.submit(spin))
    assert time.monotonic() - started < 8  # 3 s limit, and a slow, shared machine
    assert tight.wait(tight.submit(answer)) == 42


def test_a_task_that_eats_memory_is_stopped(tight: Sandbox) -> None:
    with pytest.raises(TaskOutOfMemory):
        tight.wait(tight.submit(hog))
    assert tight.wait(tight.submit(answer)) == 42


# Files that pass are staged in this store; the module's tests only look at the verdict.
BLOBS = FolderBlobStore(Path(tempfile.mkdtemp(prefix="iportal-sandbox-blobs-")))


def job(data: bytes, metadata: dict[str, str] | None = None) -> Job:
    return Job(Source("fuzzed.pdf", data=data), metadata, LIMITS, TODAY, BLOBS)


def bomb_pdf() -> bytes:
    """A Factur-X-looking PDF whose attachment inflates to a gigabyte of zeros."""
    from pypdf.generic import NameObject, StreamObject

    writer = PdfWriter(clone_from=io.BytesIO(factories.invoice_pdf()))
    writer.add_attachment("factur-x.xml", b"<x/>")
    for obj in writer._objects:
        if isinstance(obj, StreamObject) and obj.get("/Type") == "/EmbeddedFile":
            obj._data = zlib.compress(b"\0" * (1024 * 1024 * 1024), 9)
            obj[NameObject("/Filter")] = NameObject("/FlateDecode")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_decompression_bomb_is_a_clean_rejection(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = sandbox.wait(sandbox.submit(inspect, job(bomb_pdf(), factories.metadata())))
    assert isinstance(result, Rejection)
    assert "could not be read" in result.message
    assert time.monotonic() - started < 30


SEEDS = [
    factories.invoice_pdf(),
    fixture("fx_basic_invoice.pdf"),
    fixture("ubl_invoice.xml"),
    fixture("ubl_invoice_with_pdf.xml"),
]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    how = draw(st.sampled_from(["truncate", "flip", "splice", "random"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 40))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "splice":
        at = draw(st.integers(0, len(data)))
        return bytes(data[:at]) + draw(st.binary(max_size=512)) + bytes(data[at:])
    return draw(st.binary(max_size=4096))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged())
def test_damaged_files_end_in_a_result_or_a_clean_rejection(sandbox: Sandbox, data: bytes) -> None:
    started = time.monotonic()
    result = sandbox.wait(sandbox.submit(inspect, job(data, factories.metadata())))
    assert isinstance(result, (Candidate, Rejection))
    if isinstance(result, Rejection):
        assert result.message and "Traceback" not in result.message
    assert time.monotonic() - started < 25


def stuck_on_one(job: Job) -> Candidate | Rejection:
    """A file whose parse cannot be interrupted (stuck in C code: the timer's signal
    is blocked), among files that read normally."""
    if job.source.name == "stuck.pdf":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(120)
    return inspect(job)


async def test_a_file_stuck_beyond_the_timer_costs_only_itself() -> None:
    """The parent gives up on the stuck task, replaces its worker and reads the other
    files of its chunk again one by one: only the stuck file is turned away."""

    async def nobody(candidate: Candidate) -> None:
        return None  # no issuer: the outcome tells whether the file itself was read

    names = ["a.pdf", "stuck.pdf", "b.pdf", "c.pdf"]
    items = [
        Item(Source(name, data=factories.invoice_pdf(name)), factories.metadata(number=name))
        for name in names
    ]
    with Workers(jobs=1, limits=Limits(seconds=1.0, grace=1.0)) as box:
        run = Ingest(nobody, BLOBS, "http://portal.test", box, LIMITS, TODAY, check=stuck_on_one)
        started = time.monotonic()
        outcomes = [outcome async for outcome in run.run(iter(items))]
    assert time.monotonic() - started < 30
    reasons = {outcome.name: outcome.reason for outcome in outcomes}
    assert list(reasons) == names  # every file once, in order
    assert reasons["stuck.pdf"] == "Reading the file took too long; it was stopped."
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        assert reasons[name].startswith("No issuer has this document's client number")


def crash_on(name: str) -> str:
    """A parse that takes its process down with it (as a crash in C code would)."""
    if name == "crash":
        os._exit(70)
    return name.upper()


async def test_a_worker_that_dies_costs_only_its_task() -> None:
    """The task running in a worker that died fails with `TaskTimedOut`; the task
    queued behind it in the same worker goes to its replacement."""
    with Workers(jobs=1, limits=Limits(seconds=5.0, grace=1.0)) as box:
        stuck = box.submit(crash_on, [("a",), ("crash",)])
        queued = box.submit(crash_on, [("b",), ("c",)])
        with pytest.raises(TaskTimedOut):
            await stuck
        assert await queued == ["B", "C"]
        assert await box.submit(crash_on, [("d",)]) == ["D"]


async def test_workers_run_tasks_under_the_limits_and_answer_in_order() -> None:
    with Workers(jobs=2, limits=Limits(seconds=1.0, grace=5.0)) as box:
        futures = [box.submit(crash_on, [(f"n{i}",), (f"m{i}",)]) for i in range(10)]
        first = box.submit(answer_each, [()])
        spun = box.submit(spin_each, [(), ()])
        assert [await future for future in futures] == [[f"N{i}", f"M{i}"] for i in range(10)]
        assert await first == [42]
        # the timer stops each call; the worker lives on
        assert [type(error) for error in await spun] == [TaskTimedOut, TaskTimedOut]
        assert await box.submit(answer_each, [()]) == [42]


def answer_each() -> int:
    return answer()


def spin_each() -> None:
    spin()


async def test_the_apps_lifespan_owns_its_sandbox(settings: Any) -> None:
    """The web app makes its sandbox when it starts (its workers start on first use) and
    closes it when it stops; one set beforehand (the tests' own) is left to its owner."""
    from iportal.app import create_app

    app = create_app(settings, manage_pool=False)
    async with app.lifespan():
        made = app.state.sandbox
        assert isinstance(made, Sandbox) and not made.started
        assert await made.run(answer) == 42
        assert made.started
    assert app.state.sandbox is None and not made.started

    with Sandbox(jobs=1) as own:
        app = create_app(settings, manage_pool=False)
        app.state.sandbox = own
        async with app.lifespan():
            assert app.state.sandbox is own
            assert await own.run(answer) == 42
        assert app.state.sandbox is own and own.started
        assert await own.run(answer) == 42
