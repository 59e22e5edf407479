"""Untrusted files are parsed in worker processes with a time and a memory limit.

A malicious or malformed PDF must not hang or exhaust the portal: each worker
caps its address space (`RLIMIT_AS`) and arms a timer around every task, so a
runaway parse ends as a clean rejection and the worker lives on. Should a task
still overrun (stuck in C code), the parent gives up on it after a grace
period, kills the pool and starts a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIME_LIMIT = 20.0
DEFAULT_MEMORY_LIMIT = 768 * 1024 * 1024
PARENT_GRACE = 5.0
PRELOAD = ("iportal.documents.inspection", "iportal.documents.einvoice")


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


class Sandbox:
    """A pool of `jobs` worker processes that run functions under `limits`."""

    def __init__(self, jobs: int | None = None, limits: Limits | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.limits = limits or Limits()
        self._context = multiprocessing.get_context("forkserver")
        # Workers fork from a server that has read the PDF stack once already, so that
        # a new worker (and a pool restarted after an overrun) is ready at once.
        self._context.set_forkserver_preload(list(PRELOAD))
        self._pool: Pool | None = None

    def _ensure_pool(self) -> Pool:
        if self._pool is None:
            self._pool = self._context.Pool(
                self.jobs, initializer=_init_worker, initargs=(self.limits.memory_bytes,)
            )
        return self._pool

    def submit(self, function: Callable[..., T], *args: Any) -> AsyncResult[T]:
        return self._ensure_pool().apply_async(_bounded, (self.limits.seconds, function, args))

    def submit_each(
        self, function: Callable[..., T], calls: list[tuple[Any, ...]]
    ) -> asyncio.Future[list[T | Exception]]:
        """Run `function` on each argument tuple in one worker, each call under the
        limits; answered on the running event loop with the results in order (an
        exception in place of a result). One task for several calls keeps the pool's
        own bookkeeping, a few hundred microseconds a task, off every file."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[T | Exception]] = loop.create_future()

        def settle(outcome: Any, failed: bool = False) -> None:
            if not future.done():
                (future.set_exception if failed else future.set_result)(outcome)

        self._ensure_pool().apply_async(
            _bounded_each,
            (self.limits.seconds, function, calls),
            callback=lambda value: loop.call_soon_threadsafe(settle, value),
            error_callback=lambda error: loop.call_soon_threadsafe(settle, error, True),
        )
        return future

    async def wait_each(
        self, future: asyncio.Future[list[T | Exception]], calls: int
    ) -> list[T | Exception]:
        """Like `wait`, with patience for `calls` calls: `TaskTimedOut` when it ran out,
        and the pool is then replaced (other tasks in flight must be submitted again)."""
        patience = self.limits.seconds * calls + self.limits.grace
        try:
            return await asyncio.wait_for(asyncio.shield(future), patience)
        except TimeoutError:
            log.error("a sandboxed task overran its limit; restarting the worker pool")
            self.restart()
            raise TaskTimedOut() from None

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
