"""argon2 off the event loop: at most one thread per core, in forked children too."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from typing import Any

import pytest

from iportal import security


class SlowCountingHasher:
    """The real hasher, slowed down so that overlapping verifications show."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.threads: set[int] = set()

    def verify(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())
        try:
            time.sleep(0.02)
            return bool(self.real.verify(password_hash, password))
        finally:
            with self.lock:
                self.running -= 1

    def check_needs_rehash(self, password_hash: str) -> bool:
        return bool(self.real.check_needs_rehash(password_hash))


async def test_verifications_run_off_the_loop_at_most_one_per_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hasher = SlowCountingHasher(security.PASSWORD_HASHER)
    monkeypatch.setattr(security, "PASSWORD_HASHER", hasher)
    password_hash = hasher.real.hash("a long enough passphrase")
    cores = os.cpu_count() or 1
    results = await asyncio.gather(
        *(security.verify_password(password_hash, "a long enough passphrase") for _ in range(8))
    )
    assert results == [(True, False)] * 8
    assert hasher.most == min(8, cores)
    assert threading.get_ident() not in hasher.threads


def _verify_in_child() -> tuple[bool, bool]:
    return asyncio.run(security.verify_password(None, "anything"))


def test_a_forked_process_verifies_with_threads_of_its_own() -> None:
    asyncio.run(security.verify_password(None, "anything"))  # the parent's threads exist
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_verify_in_child).get(timeout=60) == (False, False)
