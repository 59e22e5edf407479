"""Login throttling (10 failures per 15 minutes, per account and per address, counted
in PostgreSQL), lockout after 100 consecutive failures, one hash per attempt."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iportal import security
from iportal.accounts.tables import AuditEvent, PortalUser, ThrottleAttempt
from tests import factories
from tests.accounts.security_support import (
    LOGIN_FAILED,
    Clock,
    CountingHasher,
    api_login,
    client_from,
    deliver_mail,
    link_in,
    make_app,
    person,
    step_start,
)
from tests.helpers import csrf_from

WRONG = "not the password at all"


async def test_login_is_throttled_per_account_whatever_the_address(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    app = make_app(settings)
    for n in range(10):
        async with client_from(app, f"192.0.2.{n + 1}") as http:
            assert (await api_login(http, anna["email"], WRONG)).status_code == 401
    async with client_from(app, "192.0.2.99") as http:
        throttled = await api_login(http, anna["email"])  # even the right password
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 15 * 60
    assert "Too many attempts" in throttled.json()["detail"]


async def test_login_is_throttled_per_address_whatever_the_account(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    people = [await person() for _ in range(11)]
    app = make_app(settings)
    async with client_from(app, "198.51.100.7") as http:
        for someone in people[:10]:
            assert (await api_login(http, someone["email"], WRONG)).status_code == 401
        assert (await api_login(http, people[10]["email"])).status_code == 429
    async with client_from(app, "198.51.100.8") as elsewhere:
        assert (await api_login(elsewhere, people[10]["email"])).status_code == 200


async def test_an_unknown_login_is_counted_and_answered_like_a_known_one(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    app = make_app(settings)
    known, unknown = [], []
    for n in range(11):
        async with client_from(app, f"203.0.113.{n + 1}") as http:
            known.append(await api_login(http, anna["email"], WRONG))
            unknown.append(await api_login(http, "nobody@example.test", WRONG))
    for a, b in zip(known, unknown, strict=True):
        assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert [r.status_code for r in unknown] == [401] * 10 + [429]
    assert known[0].json() == LOGIN_FAILED
    # The address counts the unknown login too.
    async with client_from(app, "203.0.113.200") as http:
        for _ in range(10):
            await api_login(http, f"ghost-{_}@example.test", WRONG)
        assert (await api_login(http, anna["email"])).status_code == 429


async def test_a_success_withdraws_its_attempt_and_resets_the_failure_count(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    async with client_from(make_app(settings), "192.0.2.10") as http:
        for _ in range(9):
            await api_login(http, anna["email"], WRONG)
        row = await PortalUser.select(PortalUser.failed_login_count).where(
            PortalUser.id == anna["id"]
        )
        assert row[0]["failed_login_count"] == 9
        for _ in range(5):  # successes never add up
            assert (await api_login(http, anna["email"])).status_code == 200
            http.cookies.clear()  # a logged-in client would need its CSRF token
        assert (await api_login(http, anna["email"], WRONG)).status_code == 401  # the 10th
        assert (await api_login(http, anna["email"], WRONG)).status_code == 429  # the 11th
    row = await PortalUser.select(PortalUser.failed_login_count).where(PortalUser.id == anna["id"])
    assert row[0]["failed_login_count"] == 1  # reset by the success, then one more failure


async def test_the_count_is_shared_by_two_app_instances(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    first, second = make_app(settings), make_app(settings)
    async with client_from(first, "192.0.2.1") as one, client_from(second, "192.0.2.1") as two:
        for _ in range(5):
            assert (await api_login(one, anna["email"], WRONG)).status_code == 401
            assert (await api_login(two, anna["email"], WRONG)).status_code == 401
        assert (await api_login(one, anna["email"])).status_code == 429
        assert (await api_login(two, anna["email"])).status_code == 429
    buckets = {row["bucket"] for row in await ThrottleAttempt.select(ThrottleAttempt.bucket)}
    assert f"login:account:{anna['id']}" in buckets and "login:ip:192.0.2.1" in buckets


async def test_the_limit_is_per_fifteen_minutes(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch, step_start())
    anna = await person()
    async with client_from(make_app(settings), "192.0.2.1") as http:
        for _ in range(10):
            await api_login(http, anna["email"], WRONG)
        throttled = await api_login(http, anna["email"])
        assert throttled.status_code == 429
        clock.move(seconds=int(throttled.headers["retry-after"]) - 5)
        assert (await api_login(http, anna["email"])).status_code == 429
        clock.move(minutes=15)
        assert (await api_login(http, anna["email"])).status_code == 200


async def test_the_login_page_says_when_to_try_again(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    async with client_from(make_app(settings), "192.0.2.1") as http:
        for n in range(11):
            token = csrf_from((await http.get("/login")).text)
            response = await http.post(
                "/login",
                data={"csrf_token": token, "username": anna["email"], "password": WRONG},
            )
            assert response.status_code == (401 if n < 10 else 429)
    assert "Please try again in 15 minutes" in response.text
    assert response.headers["retry-after"]


async def test_unknown_user_wrong_password_and_right_password_each_verify_one_hash(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    hasher = CountingHasher(security.PASSWORD_HASHER)
    monkeypatch.setattr(security, "PASSWORD_HASHER", hasher)
    async with client_from(make_app(settings), "192.0.2.1") as http:
        for username, password in [
            ("nobody@example.test", WRONG),
            ("", WRONG),
            (anna["email"], WRONG),
            (anna["email"], factories.PASSWORD),
        ]:
            before = hasher.verified
            await api_login(http, username, password)
            assert hasher.verified - before == 1, username
        http.cookies.clear()
        for _ in range(10):
            await api_login(http, anna["email"], WRONG)
        before = hasher.verified
        assert (await api_login(http, anna["email"])).status_code == 429
        assert hasher.verified == before  # a throttled attempt costs no hash


async def test_a_hundred_consecutive_failures_lock_the_account_until_a_reset(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch, mailbox: Any
) -> None:
    clock = Clock(monkeypatch, step_start())
    anna = await person()
    app = make_app(settings)
    async with client_from(app, "192.0.2.1") as http:
        for n in range(100):
            if n and n % 10 == 0:
                clock.move(minutes=15, seconds=1)  # past the throttle, as a patient attacker
            assert (await api_login(http, anna["email"], WRONG)).status_code == 401
        clock.move(minutes=15, seconds=1)
        locked = await api_login(http, anna["email"])  # the right password
        assert (locked.status_code, locked.json()) == (401, LOGIN_FAILED)  # tells nothing
        row = await PortalUser.select(PortalUser.locked_at, PortalUser.failed_login_count).where(
            PortalUser.id == anna["id"]
        )
        assert row[0]["locked_at"] is not None
        assert await AuditEvent.count().where(AuditEvent.kind == "account_locked") == 1

        asked = await http.post("/api/v1/auth/password-reset", json={"email": anna["email"]})
        assert asked.status_code == 202
        await deliver_mail(settings)
        link = link_in(mailbox.to(anna["email"])[-1], "/password-reset/confirm")
        token = link.split("token=", 1)[1]
        new_password = "a brand new passphrase for anna"
        done = await http.post(
            "/api/v1/auth/password-reset/confirm", json={"token": token, "password": new_password}
        )
        assert done.status_code == 204
        assert (await api_login(http, anna["email"], new_password)).status_code == 200
    row = await PortalUser.select(PortalUser.locked_at, PortalUser.failed_login_count).where(
        PortalUser.id == anna["id"]
    )
    assert row[0] == {"locked_at": None, "failed_login_count": 0}


async def test_a_locked_account_keeps_its_sessions_closed(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    anna = await person()
    assert (await api_login(client, anna["email"])).status_code == 200
    await PortalUser.update({PortalUser.locked_at: step_start()}).where(PortalUser.id == anna["id"])
    assert (await client.get("/api/v1/me")).status_code == 401
