"""Asking for a reset link answers alike, and as fast, for an address that has an account
and one that has none: the request does the same work for both, and the worker finds
the account (if any), makes the link and queues the e-mail afterwards."""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import httpx
import pytest

from tests.accounts.security_support import (
    Clock,
    client_from,
    deliver_mail,
    make_app,
    person,
    step_start,
)

RESET = "/api/v1/auth/password-reset"
# Random for every request, whatever the address: the one header left out of the comparison.
PER_REQUEST = {"x-request-id"}
PAIRS = 50
BATCHES = 3  # a batch within the margin is enough: the difference today is systematic
MARGIN = 0.15


async def timed(http: httpx.AsyncClient, email: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await http.post(RESET, json={"email": email})
    return time.perf_counter() - started, response


def answer(response: httpx.Response) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    """Everything a caller sees: status, every header (but the request's own id) and body."""
    headers = tuple(sorted(h for h in response.headers.multi_items() if h[0] not in PER_REQUEST))
    return response.status_code, headers, response.content


async def batch(
    http: httpx.AsyncClient, clock: Clock, known: str, unknown: str
) -> tuple[float, float, set[Any]]:
    """Medians of PAIRS requests for each address, interleaved (the order swapped
    every pair), each pair in a new throttle window; and every answer seen."""
    times: dict[str, list[float]] = {known: [], unknown: []}
    answers = set()
    for n in range(PAIRS):
        clock.move(minutes=16)  # a fresh window: the throttle never answers for the portal
        for email in (known, unknown) if n % 2 else (unknown, known):
            seconds, response = await timed(http, email)
            times[email].append(seconds)
            answers.add(answer(response))
    return statistics.median(times[known]), statistics.median(times[unknown]), answers


async def test_asking_for_a_link_answers_alike_and_as_fast_for_every_address(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch, mailbox: Any
) -> None:
    clock = Clock(monkeypatch, step_start())
    anna = await person(language="nl")
    nobody = "nobody-at-all@example.test"
    async with client_from(make_app(settings), "192.0.2.1") as http:
        for _ in range(10):  # warm up both paths (and take the CSRF cookie once)
            clock.move(minutes=16)
            await timed(http, anna["email"])
            await timed(http, nobody)
        seen = []
        gc.disable()
        try:
            for _ in range(BATCHES):
                known, unknown, answers = await batch(http, clock, anna["email"], nobody)
                seen.append((known * 1000, unknown * 1000))
                assert len(answers) == 1, answers  # same status, headers and body
                assert next(iter(answers))[0] == 202
                if abs(known - unknown) <= MARGIN * min(known, unknown):
                    break
            else:
                pytest.fail(f"median ms (known, unknown) per batch: {seen}")
        finally:
            gc.enable()
    # The e-mails still go out, to the address with an account only.
    await deliver_mail(settings)
    assert mailbox.to(anna["email"]) and not mailbox.to(nobody)
