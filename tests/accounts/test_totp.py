"""TOTP second factor: enrolment, confirmation with recovery codes, login with a code
(API and the web's second page), replay refused even at the same instant, ±1 step
of drift, removal with the password, throttling of codes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest

from iportal.accounts.services._second_factor import RECOVERY_ALPHABET, encrypt_totp_secret
from iportal.accounts.tables import AuditEvent, PortalUser, RecoveryCode, ThrottleAttempt
from tests import factories
from tests.accounts.security_support import (
    LOGIN_FAILED,
    Clock,
    api_login,
    client_from,
    code_at,
    enrol,
    logged_in,
    make_app,
    person,
    step_start,
)
from tests.helpers import csrf_from


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch, step_start())


async def enrolled(client: httpx.AsyncClient, clock: Clock) -> dict[str, Any]:
    """A person with TOTP on (enrolled at the clock's time), logged out again."""
    anna = await person()
    csrf = await logged_in(client, anna["email"])
    anna.update(await enrol(client, csrf, clock.now))
    client.cookies.clear()
    return anna


async def test_enrolment_gives_a_uri_a_qr_code_and_the_key_and_stores_it_encrypted(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await person()
    csrf = await logged_in(client, anna["email"])
    response = await client.post("/api/v1/me/totp", headers=csrf)
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])  # 160 bits
    assert body["otpauth_uri"].startswith("otpauth://totp/iportal:")
    assert (
        f"secret={body['secret']}" in body["otpauth_uri"]
        and "issuer=iportal" in body["otpauth_uri"]
    )
    assert body["qr_svg"].lstrip().startswith("<svg") and "<path" in body["qr_svg"]
    assert response.headers["cache-control"] == "no-store"
    row = await PortalUser.select(
        PortalUser.totp_secret_encrypted, PortalUser.totp_enabled_at
    ).where(PortalUser.id == anna["id"])
    stored = row[0]["totp_secret_encrypted"]
    assert stored.startswith("v1.") and body["secret"] not in stored
    assert row[0]["totp_enabled_at"] is None  # not in force before it is confirmed
    client.cookies.clear()
    assert (await api_login(client, anna["email"])).status_code == 200


async def test_confirming_turns_it_on_with_ten_recovery_codes_shown_once(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await person()
    csrf = await logged_in(client, anna["email"])
    secret = (await client.post("/api/v1/me/totp", headers=csrf)).json()["secret"]
    wrong = await client.post("/api/v1/me/totp/confirm", json={"code": "000000"}, headers=csrf)
    assert wrong.status_code == 422 and "not correct" in wrong.json()["detail"]
    good = await client.post(
        "/api/v1/me/totp/confirm", json={"code": code_at(secret, clock.now)}, headers=csrf
    )
    assert good.status_code == 200
    codes = good.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        symbols = code.replace("-", "")
        assert len(symbols) == 16 and set(symbols) <= set(RECOVERY_ALPHABET)  # 80 bits
    stored = [r["code_hash"] for r in await RecoveryCode.select(RecoveryCode.code_hash)]
    assert len(stored) == 10 and not {c.replace("-", "") for c in codes} & set(stored)
    assert await AuditEvent.count().where(AuditEvent.kind == "totp_enabled") == 1
    assert (await client.get("/api/v1/me")).json()["totp_enabled"] is True
    again = await client.post("/api/v1/me/totp", headers=csrf)
    assert again.status_code == 409  # on: remove it before setting it up again


async def test_turning_it_on_or_off_ends_every_other_session(
    settings: Any, transaction: Any, clock: Clock
) -> None:
    anna = await person()
    app = make_app(settings)
    async with client_from(app, "192.0.2.1") as laptop, client_from(app, "192.0.2.2") as phone:
        csrf = await logged_in(laptop, anna["email"])
        await logged_in(phone, anna["email"])
        anna.update(await enrol(laptop, csrf, clock.now))
        assert (await phone.get("/api/v1/me")).status_code == 401
        assert (await laptop.get("/api/v1/me")).status_code == 200
        clock.move(seconds=30)
        phone.cookies.clear()
        await logged_in(phone, anna["email"], totp=code_at(anna["secret"], clock.now))
        removed = await laptop.request(
            "DELETE", "/api/v1/me/totp", json={"password": factories.PASSWORD}, headers=csrf
        )
        assert removed.status_code == 204
        assert (await phone.get("/api/v1/me")).status_code == 401
        assert (await laptop.get("/api/v1/me")).status_code == 200


async def test_login_needs_the_code_and_every_failure_looks_the_same(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await enrolled(client, clock)
    clock.move(seconds=30)
    without = await api_login(client, anna["email"])
    wrong = await api_login(client, anna["email"], totp="123456")
    wrong_password = await api_login(client, anna["email"], "wrong password", totp="123456")
    assert without.json() == wrong.json() == wrong_password.json() == LOGIN_FAILED
    assert without.status_code == wrong.status_code == 401
    right = await api_login(client, anna["email"], totp=code_at(anna["secret"], clock.now))
    assert right.status_code == 200


async def test_a_code_is_never_accepted_twice(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await enrolled(client, clock)
    used_to_confirm = code_at(anna["secret"], clock.now)
    assert (await api_login(client, anna["email"], totp=used_to_confirm)).status_code == 401
    clock.move(seconds=30)
    code = code_at(anna["secret"], clock.now)
    assert (await api_login(client, anna["email"], totp=code)).status_code == 200
    client.cookies.clear()
    assert (await api_login(client, anna["email"], totp=code)).status_code == 401
    # Nor an older code, still inside the drift window, once a newer one was used.
    clock.move(seconds=30)
    ahead = code_at(anna["secret"], clock.now + timedelta(seconds=30))
    assert (await api_login(client, anna["email"], totp=ahead)).status_code == 200
    client.cookies.clear()
    current = code_at(anna["secret"], clock.now)
    assert (await api_login(client, anna["email"], totp=current)).status_code == 401


@pytest.mark.parametrize(
    ("steps", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
async def test_one_step_of_clock_drift_is_accepted_two_are_not(
    client: httpx.AsyncClient, transaction: Any, clock: Clock, steps: int, accepted: bool
) -> None:
    anna = await enrolled(client, clock)
    clock.move(minutes=5)
    phone_time = clock.now + timedelta(seconds=30 * steps)
    response = await api_login(client, anna["email"], totp=code_at(anna["secret"], phone_time))
    assert (response.status_code == 200) is accepted


async def test_a_recovery_code_logs_in_once(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await enrolled(client, clock)
    code = anna["recovery_codes"][3]
    typed = " " + code.lower().replace("-", " ") + " "  # as read from paper
    assert (await api_login(client, anna["email"], totp=typed)).status_code == 200
    client.cookies.clear()
    assert (await api_login(client, anna["email"], totp=code)).status_code == 401
    used = await AuditEvent.select(AuditEvent.detail).where(AuditEvent.kind == "recovery_code_used")
    assert len(used) == 1 and '"remaining": 9' in str(used[0]["detail"]).replace("'", '"')
    other = anna["recovery_codes"][4]
    assert (await api_login(client, anna["email"], totp=other)).status_code == 200


async def test_removal_asks_for_the_password(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await enrolled(client, clock)
    clock.move(seconds=30)
    csrf = await logged_in(client, anna["email"], totp=code_at(anna["secret"], clock.now))
    wrong = await client.request(
        "DELETE", "/api/v1/me/totp", json={"password": "not my password"}, headers=csrf
    )
    assert wrong.status_code == 422
    right = await client.request(
        "DELETE", "/api/v1/me/totp", json={"password": factories.PASSWORD}, headers=csrf
    )
    assert right.status_code == 204
    assert await RecoveryCode.count() == 0
    assert await AuditEvent.count().where(AuditEvent.kind == "totp_disabled") == 1
    client.cookies.clear()
    assert (await api_login(client, anna["email"])).status_code == 200


async def test_codes_are_throttled_per_account_and_per_address(
    settings: Any, transaction: Any, clock: Clock
) -> None:
    app = make_app(settings)
    async with client_from(app, "192.0.2.1") as http:
        anna = await enrolled(http, clock)
        berta = await enrolled(http, clock)
    clock.move(minutes=1)

    async def second_page(http: httpx.AsyncClient, who: dict[str, Any]) -> None:
        token = csrf_from((await http.get("/login")).text)
        first = await http.post(
            "/login",
            data={"csrf_token": token, "username": who["email"], "password": factories.PASSWORD},
        )
        assert first.headers["location"].startswith("/login/code")

    async def wrong_code(http: httpx.AsyncClient) -> int:
        token = csrf_from((await http.get("/login")).text)
        response = await http.post("/login/code", data={"csrf_token": token, "code": "000000"})
        return response.status_code

    async with client_from(app, "198.51.100.1") as one, client_from(app, "198.51.100.1") as two:
        await second_page(one, anna)
        await second_page(two, berta)
        statuses = [await wrong_code(one if n % 2 else two) for n in range(11)]
        assert statuses == [401] * 10 + [429]  # one address, two accounts
    async with client_from(app, "198.51.100.2") as three, client_from(app, "198.51.100.3") as four:
        for http in (three, four):
            await second_page(http, anna)
        assert [await wrong_code(three) for _ in range(5)] == [401] * 5
        assert await wrong_code(four) == 429  # anna's account: 5 + 5 wrong already
        assert await wrong_code(three) == 429
    count = await PortalUser.select(PortalUser.failed_login_count).where(
        PortalUser.id == anna["id"]
    )
    assert count[0]["failed_login_count"] >= 10  # wrong codes count towards the lockout


async def test_the_web_login_asks_for_the_code_on_a_second_page(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await enrolled(client, clock)
    clock.move(seconds=30)
    token = csrf_from((await client.get("/login")).text)
    first = await client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": anna["email"],
            "password": factories.PASSWORD,
            "next": "/me/security",
        },
    )
    assert first.status_code == 303 and first.headers["location"].startswith("/login/code")
    assert "iportal_session" not in first.cookies
    pending = first.cookies["iportal_login"]
    assert len(pending) >= 43 and "httponly" in first.headers["set-cookie"].lower()
    # The pending login is no session, even presented as one.
    client.cookies.set("iportal_session", pending)
    assert (await client.get("/api/v1/me")).status_code == 401
    client.cookies.delete("iportal_session")
    page = await client.get(first.headers["location"])
    assert page.status_code == 200 and 'name="code"' in page.text
    wrong = await client.post(
        "/login/code",
        data={"csrf_token": csrf_from(page.text), "code": "111111", "next": "/me/security"},
    )
    assert wrong.status_code == 401 and "not correct" in wrong.text
    right = await client.post(
        "/login/code",
        data={
            "csrf_token": csrf_from(page.text),
            "code": code_at(anna["secret"], clock.now),
            "next": "/me/security",
        },
    )
    assert right.status_code == 303 and right.headers["location"] == "/me/security"
    assert right.cookies["iportal_session"]
    assert "iportal_login" not in client.cookies  # the pending login's cookie is cleared
    assert (await client.get("/api/v1/me")).status_code == 200
    # Used up: the same pending login cannot be finished again.
    client.cookies.clear()
    client.cookies.set("iportal_login", pending)
    again = await client.get("/login/code")
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


@pytest.fixture
async def committed_person(database: str, settings: Any) -> AsyncIterator[dict[str, Any]]:
    """A person with TOTP on, committed (not inside the rolled-back transaction), so
    that two connections see it at once; deleted with every trace afterwards."""
    secret = pyotp.random_base32(32)
    email = f"concurrent-{secret[:8].lower()}@example.test"
    user_id = await factories.user(email, first_name="Carla")
    await PortalUser.update(
        {
            PortalUser.totp_secret_encrypted: encrypt_totp_secret(
                settings.secret_key, user_id, secret
            ),
            PortalUser.totp_enabled_at: datetime.now(UTC),
        }
    ).where(PortalUser.id == user_id)
    try:
        yield {"id": user_id, "email": email, "secret": secret}
    finally:
        await AuditEvent.delete().where(AuditEvent.actor == user_id)
        await ThrottleAttempt.delete().where(
            ThrottleAttempt.bucket.like(f"%:account:{user_id}")
            | ThrottleAttempt.bucket.like("%:ip:192.0.2.20_")
        )
        await PortalUser.delete().where(PortalUser.id == user_id)  # sessions go with it


async def test_two_requests_with_the_same_code_at_the_same_instant_only_one_wins(
    settings: Any, committed_person: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch, step_start())
    carla = committed_person
    one, two = make_app(settings), make_app(settings)  # two web processes
    async with client_from(one, "192.0.2.201") as a, client_from(two, "192.0.2.202") as b:
        for _ in range(5):  # five rounds, each with the code of a new time step
            clock.move(seconds=30)
            code = code_at(carla["secret"], clock.now)
            a.cookies.clear()
            b.cookies.clear()
            results = await asyncio.gather(
                api_login(a, carla["email"], totp=code), api_login(b, carla["email"], totp=code)
            )
            assert sorted(r.status_code for r in results) == [200, 401]
    wins = await AuditEvent.count().where(
        (AuditEvent.actor == carla["id"]) & (AuditEvent.kind == "login_succeeded")
    )
    assert wins == 5


async def test_the_security_page_sets_it_up_shows_the_codes_once_and_removes_it(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await person()
    await logged_in(client, anna["email"])
    off = await client.get("/me/security")
    assert off.status_code == 200 and 'id="totp-start"' in off.text
    started = await client.post("/me/security/totp", data={"csrf_token": csrf_from(off.text)})
    assert started.status_code == 303
    setup = await client.get("/me/security")
    assert "<svg" in setup.text  # the QR code, inline
    key = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', setup.text)
    assert key, setup.text
    secret = key.group(1).replace(" ", "")
    confirmed = await client.post(
        "/me/security/totp/confirm",
        data={"csrf_token": csrf_from(setup.text), "code": code_at(secret, clock.now)},
    )
    assert confirmed.status_code == 200
    codes = re.findall(r"<li>([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})</li>", confirmed.text)
    assert len(codes) == 10
    later = await client.get("/me/security")
    assert not set(codes) & set(re.findall(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}", later.text))
    assert "10 unused recovery codes" in later.text
    wrong = await client.post(
        "/me/security/totp/remove",
        data={"csrf_token": csrf_from(later.text), "password": "not my password"},
    )
    assert wrong.status_code == 422
    removed = await client.post(
        "/me/security/totp/remove",
        data={"csrf_token": csrf_from(later.text), "password": factories.PASSWORD},
    )
    assert removed.status_code == 303
    assert 'id="security-done"' in (await client.get(removed.headers["location"])).text
