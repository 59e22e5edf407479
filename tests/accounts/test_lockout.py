"""Guessing stays throttled, but the owner gets in: a browser that logged into the
account before carries a signed device cookie with a budget of its own, unknown
devices share the account's, and the owner is told once, with a reset link."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal.accounts.tables import AuditEvent, PortalUser
from tests.accounts.security_support import (
    LOGIN_FAILED,
    Clock,
    api_login,
    client_from,
    code_at,
    deliver_mail,
    enrol,
    link_in,
    logged_in,
    make_app,
    person,
    step_start,
)
from tests.factories import PASSWORD
from tests.helpers import csrf_from, form_login

WRONG = "not the password at all"
LOGOUT = "/api/v1/auth/logout"
DEVICE = "iportal_device"


@asynccontextmanager
async def known_browser(app: Any, ip: str, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser that logged in through the login page before, then logged out: it
    keeps its device cookie and nothing else of the session."""
    async with client_from(app, ip) as http:
        assert (await form_login(http, email, PASSWORD)).status_code == 303
        token = csrf_from((await http.get("/me")).text)
        assert (await http.post("/logout", data={"csrf_token": token})).status_code == 303
        assert (await http.get("/api/v1/me")).status_code == 401
        yield http


class Attacker:
    """Wrong passwords from ever new addresses, as fast as the throttle lets them:
    after a 429 it waits exactly the Retry-After it was given."""

    def __init__(self, app: Any, clock: Clock, login: str) -> None:
        self.app, self.clock, self.login = app, clock, login
        self.answers: list[int] = []

    async def one(self) -> httpx.Response:
        async with client_from(self.app, f"198.51.100.{len(self.answers) % 250 + 1}") as http:
            response = await api_login(http, self.login, WRONG)
        self.answers.append(response.status_code)
        assert response.status_code in (401, 429), response.text
        if response.status_code == 429:
            self.clock.move(seconds=int(response.headers["retry-after"]))
        else:
            self.clock.move(seconds=1)
        return response


async def test_an_attacker_at_full_rate_for_thirty_minutes_never_keeps_the_owners_browser_out(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch, mailbox: Any
) -> None:
    clock = Clock(monkeypatch, step_start())
    anna = await person()
    app = make_app(settings)
    async with known_browser(app, "192.0.2.10", anna["email"]) as laptop:
        attacker = Attacker(app, clock, anna["email"])
        end = clock.now + timedelta(minutes=30)
        in_the_middle = None
        while clock.now < end:
            refused = await attacker.one()
            if refused.status_code == 429 and in_the_middle is None:
                # The owner, at that very moment, from their known browser...
                in_the_middle = await logged_in(laptop, anna["email"])
                assert (await laptop.post(LOGOUT, headers=in_the_middle)).status_code == 204
                # ...and someone on a browser the account never saw: the shared budget.
                async with client_from(app, "203.0.113.5") as unknown:
                    assert (await api_login(unknown, anna["email"])).status_code == 429
        # Guessing stayed throttled: 10 wrong passwords checked per 15 minutes at most.
        assert 10 <= attacker.answers.count(401) <= 20
        assert in_the_middle is not None and attacker.answers.count(429) >= 2
        # The owner's known browser logs in at once, the attack still going on.
        assert (await attacker.one()).status_code == 429
        await logged_in(laptop, anna["email"])
        assert (await laptop.get("/api/v1/me")).json()["email"] == anna["email"]
    # One e-mail to the owner, however many refusals, with a link to choose a new password.
    await deliver_mail(settings)
    told = mailbox.to(anna["email"])
    assert len(told) == 1 and len(mailbox.messages) == 1
    assert "/password-reset/confirm?token=" in link_in(told[0], "/password-reset/confirm")


async def fill_the_shared_budget(app: Any, login: str) -> None:
    for n in range(11):
        async with client_from(app, f"198.51.100.{n + 1}") as http:
            await api_login(http, login, WRONG)


async def with_cookie(app: Any, ip: str, value: str, login: str, password: str) -> int:
    """A login from a fresh client at `ip` that carries this device cookie."""
    async with client_from(app, ip) as http:
        http.cookies.set(DEVICE, value)
        return (await api_login(http, login, password)).status_code


async def test_only_a_valid_device_cookie_of_this_user_has_its_own_budget(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna, bert = await person(), await person()
    app = make_app(settings)
    async with (
        known_browser(app, "192.0.2.10", anna["email"]) as annas,
        known_browser(app, "192.0.2.11", bert["email"]) as berts,
    ):
        annas_cookie, berts_cookie = annas.cookies[DEVICE], berts.cookies[DEVICE]
        user_id, nonce, signature = annas_cookie.split(".")
        assert user_id == str(anna["id"])
        await fill_the_shared_budget(app, anna["email"])
        flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        for n, foreign in enumerate(
            (
                berts_cookie,  # another user's
                f"{user_id}.{nonce}.{flipped}",  # tampered with
                f"{bert['id']}.{nonce}.{signature}",  # moved to another user
                "nonsense",
            )
        ):
            status = await with_cookie(app, f"203.0.113.{n + 1}", foreign, anna["email"], PASSWORD)
            assert status == 429, foreign
        assert (await api_login(annas, anna["email"])).status_code == 200


async def test_a_known_device_that_guesses_is_throttled_on_its_own(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    app = make_app(settings)
    async with (
        known_browser(app, "192.0.2.10", anna["email"]) as stolen,
        known_browser(app, "192.0.2.11", anna["email"]) as phone,
    ):
        cookie = stolen.cookies[DEVICE]  # guessing with it from ever new addresses
        answers = [
            await with_cookie(app, f"198.51.100.{n + 1}", cookie, anna["email"], WRONG)
            for n in range(11)
        ]
        assert answers == [401] * 10 + [429]
        assert await with_cookie(app, "198.51.100.99", cookie, anna["email"], PASSWORD) == 429
        # Neither the owner's other browser nor the shared budget paid for it.
        assert (await api_login(phone, anna["email"])).status_code == 200
        async with client_from(app, "203.0.113.9") as unknown:
            assert (await api_login(unknown, anna["email"])).status_code == 200


async def test_the_lock_shuts_unknown_devices_out_and_the_owners_browser_opens_it_again(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch, mailbox: Any
) -> None:
    clock = Clock(monkeypatch, step_start())
    anna = await person()
    app = make_app(settings)
    async with known_browser(app, "192.0.2.10", anna["email"]) as laptop:
        for n in range(100):
            if n and n % 10 == 0:
                clock.move(minutes=15, seconds=1)  # past the throttle, as a patient attacker
            async with client_from(app, f"198.51.100.{n % 50 + 1}") as http:
                assert (await api_login(http, anna["email"], WRONG)).status_code == 401
        clock.move(minutes=15, seconds=1)
        async with client_from(app, "203.0.113.9") as unknown:
            locked = await api_login(unknown, anna["email"])
        assert (locked.status_code, locked.json()) == (401, LOGIN_FAILED)  # tells nothing
        assert await AuditEvent.count().where(AuditEvent.kind == "account_locked") == 1
        await deliver_mail(settings)
        told = mailbox.to(anna["email"])
        assert len(told) == 1  # the lock, said once, with a link to choose a new password
        link_in(told[0], "/password-reset/confirm")
        # The owner's known browser still gets in, and its session works.
        csrf = await logged_in(laptop, anna["email"])
        assert (await laptop.get("/api/v1/me")).status_code == 200
        row = await PortalUser.select(PortalUser.locked_at).where(PortalUser.id == anna["id"])
        assert row[0]["locked_at"] is None
        assert (await laptop.post(LOGOUT, headers=csrf)).status_code == 204


async def test_the_device_cookie_is_signed_long_lived_and_host_only(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    for base_url, name in (
        ("http://127.0.0.1:8000", DEVICE),
        ("https://portal.example", "__Host-" + DEVICE),
    ):
        app = make_app(dataclasses.replace(settings, base_url=base_url))
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
        origin = f"{base_url.split(':')[0]}://testserver"  # secure cookies travel over HTTPS
        async with httpx.AsyncClient(transport=transport, base_url=origin) as http:
            response = await form_login(http, anna["email"], PASSWORD)
        assert response.status_code == 303
        headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
        assert len(headers) == 1, response.headers.get_list("set-cookie")
        header = headers[0]
        attributes = {part.strip().lower() for part in header.split(";")[1:]}
        assert {"httponly", "path=/", "samesite=lax", "max-age=31536000"} <= attributes
        assert ("secure" in attributes) == base_url.startswith("https")
        assert "domain" not in header.lower()
        user_id, nonce, signature = header.split(";")[0].split("=", 1)[1].split(".")
        assert user_id == str(anna["id"]) and len(nonce) >= 22 and len(signature) == 64


async def test_the_logged_in_owner_changes_the_password_while_guesses_fill_the_account(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch, step_start())
    anna = await person()
    app = make_app(settings)
    async with client_from(app, "192.0.2.10") as laptop:
        csrf = await logged_in(laptop, anna["email"])
        await fill_the_shared_budget(app, anna["email"])
        changed = await laptop.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "new_password": "a new passphrase for anna"},
            headers=csrf,
        )
        assert changed.status_code == 204, changed.text


async def web_login_with_code(http: httpx.AsyncClient, email: str, code: str) -> httpx.Response:
    first = await form_login(http, email, PASSWORD)
    assert first.status_code == 303, first.text
    assert first.headers["location"].startswith("/login/code")
    token = csrf_from((await http.get("/login/code")).text)
    return await http.post("/login/code", data={"csrf_token": token, "code": code})


async def test_with_two_step_verification_the_known_browser_gets_in_during_an_attack_too(
    settings: Any, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch, step_start())
    anna = await person()
    app = make_app(settings)
    async with client_from(app, "192.0.2.10") as laptop:
        csrf = await logged_in(laptop, anna["email"])
        secret = (await enrol(laptop, csrf, clock.now))["secret"]
        assert (await laptop.post(LOGOUT, headers=csrf)).status_code == 204
        clock.move(seconds=30)  # the next code: the one that confirmed is spent
        done = await web_login_with_code(laptop, anna["email"], code_at(secret, clock.now))
        assert done.status_code == 303 and DEVICE in laptop.cookies
        token = csrf_from((await laptop.get("/me")).text)
        assert (await laptop.post("/logout", data={"csrf_token": token})).status_code == 303
        await fill_the_shared_budget(app, anna["email"])
        clock.move(seconds=30)
        again = await web_login_with_code(laptop, anna["email"], code_at(secret, clock.now))
        assert again.status_code == 303
        assert (await laptop.get("/api/v1/me")).status_code == 200
