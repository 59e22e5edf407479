"""Untrusted files are handled in worker processes with a time and a memory limit.

Both rooms of `documents` use it: publishing parses every file sent in it, reading
stamps duplicates in it. A malicious or malformed PDF must not hang or exhaust the
portal: each worker caps its address space (`RLIMIT_AS`) and arms a timer around
every task, so a runaway parse ends as a clean rejection and the worker lives on.
Should a task still overrun (stuck in C code), the parent gives up on it after a
grace period, kills the worker and starts a fresh one.

Two front ends share that worker: `Sandbox`, a `multiprocessing` pool for the web
process's one file at a time (the app's lifespan owns it), and `Workers` for
`iportal ingest`: plain processes, each fed through a pipe that the event loop
watches, with no thread in between, so the process that records spends next to
nothing on the hand-over.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.pool import AsyncResult, Pool
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

WEB_JOBS = 2  # the web process's workers: one publication or duplicate at a time each
DEFAULT_TIME_LIMIT = 20.0
DEFAULT_MEMORY_LIMIT = 768 * 1024 * 1024
PARENT_GRACE = 5.0
PRELOAD = ("iportal.documents.publishing.inspection", "iportal.documents.publishing.einvoice")


@dataclass(frozen=True)
class Limits:
    seconds: float = DEFAULT_TIME_LIMIT
    memory_bytes: int = DEFAULT_MEMORY_LIMIT
    grace: float = PARENT_GRACE  # the parent's patience beyond `seconds`


class TaskTimedOut(Exception):
    """The task ran past its time limit."""


class TaskOutOfMemory(Exception):
    """The task needed more memory than its limit."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise TaskTimedOut()


def _init_worker(memory_bytes: int) -> None:
    # The parent handles Ctrl-C; workers just stop when the pool is terminated.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _bounded(seconds: float, function: Callable[..., T], args: tuple[Any, ...]) -> T:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args)
    except MemoryError:
        raise TaskOutOfMemory() from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _bounded_each(
    seconds: float, function: Callable[..., T], calls: list[tuple[Any, ...]]
) -> list[T | Exception]:
    results: list[T | Exception] = []
    for args in calls:
        try:
            results.append(_bounded(seconds, function, args))
        except Exception as error:  # handed back in the call's place
            results.append(error)
    return results


def _context() -> ForkServerContext:
    # Workers fork from a server that has read the PDF stack once already, so that
    # a new worker (and one started after an overrun) is ready at once.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


class Sandbox:
    """A pool of `jobs` worker processes that run functions under `limits`."""

    def __init__(self, jobs: int | None = None, limits: Limits | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.limits = limits or Limits()
        self._context = _context()
        self._pool: Pool | None = None

    def _ensure_pool(self) -> Pool:
        if self._pool is None:
            self._pool = self._context.Pool(
                self.jobs, initializer=_init_worker, initargs=(self.limits.memory_bytes,)
            )
        return self._pool

    @property
    def started(self) -> bool:
        """Whether its worker processes are running (they start on first use)."""
        return self._pool is not None

    def submit(self, function: Callable[..., T], *args: Any) -> AsyncResult[T]:
        return self._ensure_pool().apply_async(_bounded, (self.limits.seconds, function, args))

    def wait(self, pending: AsyncResult[T]) -> T:
        """The task's result; `TaskTimedOut` when even the parent's patience ran out
        (the pool is then replaced, so other tasks in flight must be submitted again)."""
        try:
            return pending.get(self.limits.seconds + self.limits.grace)
        except multiprocessing.TimeoutError:
            log.error("a sandboxed task overran its limit; restarting the worker pool")
            self.restart()
            raise TaskTimedOut() from None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run one task without blocking the event loop."""
        pending = self.submit(function, *args)
        return await asyncio.to_thread(self.wait, pending)

    def restart(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@asynccontextmanager
async def sandbox_lifespan(app: Any) -> AsyncIterator[None]:
    """The web app's `Sandbox` (`app.state.sandbox`) for as long as the app runs. Its
    processes start on first use, so that start-up stays quick; they are closed at
    shutdown. A sandbox set before start-up (the tests' one for the whole run) is
    left to whoever made it."""
    if app.state.get("sandbox") is not None:
        yield
        return
    sandbox = Sandbox(jobs=WEB_JOBS)
    app.state.sandbox = sandbox
    try:
        yield
    finally:
        await asyncio.to_thread(sandbox.close)
        app.state.sandbox = None


DEPTH = 2  # tasks a worker holds: the one it runs, the next one waiting in its pipe
PIPE_ROOM = 32 * 1024  # a task queued behind a running one must fit in the pipe's buffer


def _serve(connection: Connection, memory_bytes: int, seconds: float) -> None:
    """A worker of `Workers`: tasks in through its pipe, results out, until it closes."""
    _init_worker(memory_bytes)
    while True:
        try:
            function, calls = connection.recv()  # pickled by `Workers.submit`
        except EOFError:
            return
        results = _bounded_each(seconds, function, calls)
        connection.send_bytes(pickle.dumps(results, pickle.HIGHEST_PROTOCOL))


@dataclass
class _Task:
    future: asyncio.Future[list[Any]]
    payload: bytes  # the function and its calls, pickled once: sent again after a restart
    calls: int
    timer: asyncio.TimerHandle | None = None


@dataclass
class _Worker:
    process: Any  # a forkserver Process
    connection: Connection
    tasks: deque[_Task] = field(default_factory=deque)  # sent, in order; the first one runs


class Workers:
    """`jobs` sandboxed worker processes serving one event loop, each through a pipe of
    its own: a result wakes the loop directly, and the next task goes out at once.

    A task that overruns costs only its worker: that process is killed and replaced,
    the task fails with `TaskTimedOut`, and the tasks queued behind it go again."""

    def __init__(self, jobs: int | None = None, limits: Limits | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.limits = limits or Limits()
        self._context = _context()
        self._workers: list[_Worker] = []
        self._backlog: deque[_Task] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting: threading.Thread | None = None
        self._failed: BaseException | None = None  # how the start went wrong

    def start_soon(self) -> None:
        """Start the processes from a thread: the server loads the PDF stack and the
        workers fork while this process goes on with its own start."""
        if self._starting is None and not self._workers:
            self._starting = threading.Thread(target=self._start, daemon=True)
            self._starting.start()

    def _start(self) -> None:
        try:
            for _ in range(self.jobs):
                self._workers.append(self._spawn())
        except BaseException as error:  # raised again by the first `submit`
            self._failed = error

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(child, self.limits.memory_bytes, self.limits.seconds),
            daemon=True,
        )
        process.start()
        child.close()
        worker = _Worker(process, parent)
        if self._loop is not None:
            self._loop.add_reader(parent.fileno(), self._on_result, worker)
        return worker

    def _attach(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self.start_soon()
            assert self._starting is not None
            self._starting.join()
            if self._failed is not None:
                raise RuntimeError("the sandboxed workers did not start") from self._failed
            self._loop = asyncio.get_running_loop()
            for worker in self._workers:
                self._loop.add_reader(worker.connection.fileno(), self._on_result, worker)
        return self._loop

    def submit(
        self, function: Callable[..., T], calls: list[tuple[Any, ...]], *, first: bool = False
    ) -> asyncio.Future[list[T | Exception]]:
        """Run `function` on each argument tuple in one worker, each call under the
        limits; the future holds the results in order (an exception in place of a
        result), or `TaskTimedOut` when the task as a whole overran. `first` puts the
        task ahead of those waiting for a worker."""
        future: asyncio.Future[list[Any]] = self._attach().create_future()
        task = _Task(future, pickle.dumps((function, calls), pickle.HIGHEST_PROTOCOL), len(calls))
        (self._backlog.appendleft if first else self._backlog.append)(task)
        self._dispatch()
        return future

    def _dispatch(self) -> None:
        while self._backlog:
            worker = min(self._workers, key=lambda w: len(w.tasks))
            task = self._backlog[0]
            if len(worker.tasks) >= DEPTH or (worker.tasks and len(task.payload) > PIPE_ROOM):
                return  # every worker is busy; a result will call this again
            self._backlog.popleft()
            worker.tasks.append(task)
            if len(worker.tasks) == 1:
                self._arm(worker)
            worker.connection.send_bytes(task.payload)

    def _arm(self, worker: _Worker) -> None:
        """The patience for the task a worker starts now: its calls' limits and a grace."""
        assert self._loop is not None
        task = worker.tasks[0]
        patience = self.limits.seconds * task.calls + self.limits.grace
        task.timer = self._loop.call_later(patience, self._overrun, worker)

    def _on_result(self, worker: _Worker) -> None:
        try:
            results = worker.connection.recv()
        except (EOFError, OSError):
            log.error("a sandboxed worker ended in the middle of a task; starting another")
            self._replace(worker)
            return
        task = worker.tasks.popleft()
        if task.timer is not None:
            task.timer.cancel()
        if worker.tasks:
            self._arm(worker)
        if not task.future.done():
            task.future.set_result(results)
        self._dispatch()

    def _overrun(self, worker: _Worker) -> None:
        log.error("a sandboxed task overran its limit; replacing its worker")
        self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        self._stop(worker, kill=True)
        self._workers[self._workers.index(worker)] = self._spawn()
        if worker.tasks:
            stuck = worker.tasks.popleft()
            if stuck.timer is not None:
                stuck.timer.cancel()
            if not stuck.future.done():
                stuck.future.set_exception(TaskTimedOut())
            self._backlog.extendleft(reversed(worker.tasks))  # never run: they go again
        self._dispatch()

    def _stop(self, worker: _Worker, kill: bool = False) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(worker.connection.fileno())
        if kill:
            worker.process.kill()
        worker.connection.close()  # a worker between tasks ends on its own
        worker.process.join(None if kill else self.limits.grace)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()

    def close(self) -> None:
        if self._starting is not None:
            self._starting.join()
        for worker in self._workers:
            self._stop(worker)
        self._workers = []

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
