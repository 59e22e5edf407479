"""Logging in and out: server-side sessions, CSRF on forms, one message for every failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal import clock
from iportal.accounts.tables import AuditEvent, UserSession
from tests import factories
from tests.helpers import csrf_from, form_login

LOGIN = "BE0417000129"


async def b2b_main_contact() -> dict[str, Any]:
    issuer_id = await factories.issuer("DL2")
    number = await factories.client_number(issuer_id, "DL20000101", company_name="Peeters BV")
    user_id = await factories.user("anna@peeters.example", first_name="Anna", last_name="Peeters")
    await factories.account(user_id, number, login=LOGIN)
    return {"user_id": user_id, "client_number_id": number}


async def test_login_with_the_enterprise_number_opens_a_session(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await b2b_main_contact()
    response = await form_login(client, "be 0417.000.129", factories.PASSWORD, next="/")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.cookies["iportal_session"]
    assert len(cookie) >= 43  # 256 bits, URL-safe base64
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    home = await client.get("/", follow_redirects=True)  # a logged-in person lands on documents
    assert home.url.path == "/documents" and "Anna Peeters" in home.text
    assert (await client.get("/api/v1/me")).json()["email"] == "anna@peeters.example"
    stored = await UserSession.select(UserSession.token_hash).first()
    assert stored is not None and cookie not in stored["token_hash"]  # only a keyed hash


async def test_login_with_the_email_works_too(client: httpx.AsyncClient, transaction: Any) -> None:
    await b2b_main_contact()
    response = await form_login(client, "Anna@Peeters.example", factories.PASSWORD)
    assert response.status_code == 303


async def test_every_failure_gets_the_same_answer(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await b2b_main_contact()
    wrong_password = await form_login(client, LOGIN, "not the password at all")
    unknown_user = await form_login(client, "BE0999999999", "not the password at all")
    assert wrong_password.status_code == unknown_user.status_code == 401
    message = "The username or password is not correct."
    assert message in wrong_password.text and message in unknown_user.text
    api_wrong = await client.post(
        "/api/v1/auth/login", json={"username": LOGIN, "password": "nope-nope-nope"}
    )
    api_unknown = await client.post(
        "/api/v1/auth/login", json={"username": "nobody@example.test", "password": "nope"}
    )
    assert api_wrong.status_code == api_unknown.status_code == 401
    assert api_wrong.json() == api_unknown.json() == {"status_code": 401, "detail": message}
    failures = await AuditEvent.count().where(AuditEvent.kind == "login_failed")
    assert failures == 2  # recorded for the existing user only


async def test_a_form_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await b2b_main_contact()
    await client.get("/login")  # the browser has its CSRF cookie…
    response = await client.post(  # …but the form does not carry the token
        "/login", data={"username": LOGIN, "password": factories.PASSWORD}
    )
    assert response.status_code == 403
    assert "not sent from this site" in response.text
    forged = await client.post(
        "/login", data={"username": LOGIN, "password": factories.PASSWORD, "csrf_token": "x" * 43}
    )
    assert forged.status_code == 403
    assert await UserSession.count() == 0


async def test_a_logged_in_form_needs_the_sessions_token(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await b2b_main_contact()
    await form_login(client, LOGIN, factories.PASSWORD)
    anonymous_token = client.cookies["iportal_csrf"]
    refused = await client.post("/logout", data={"csrf_token": anonymous_token})
    assert refused.status_code == 403
    token = csrf_from((await client.get("/", follow_redirects=True)).text)
    accepted = await client.post("/logout", data={"csrf_token": token})
    assert accepted.status_code == 303


async def test_login_never_keeps_a_session_id_the_browser_brought(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await b2b_main_contact()
    first = (await form_login(client, LOGIN, factories.PASSWORD)).cookies["iportal_session"]
    second = (await form_login(client, LOGIN, factories.PASSWORD)).cookies["iportal_session"]
    assert first != second


async def test_logout_ends_the_session_for_good(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await b2b_main_contact()
    await form_login(client, LOGIN, factories.PASSWORD)
    old_cookie = client.cookies["iportal_session"]
    token = csrf_from((await client.get("/", follow_redirects=True)).text)
    await client.post("/logout", data={"csrf_token": token})
    client.cookies.set("iportal_session", old_cookie)
    me = await client.get("/api/v1/me")
    assert me.status_code == 401


async def test_the_api_login_returns_the_profile_and_a_csrf_token(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await b2b_main_contact()
    response = await client.post(
        "/api/v1/auth/login", json={"username": LOGIN, "password": factories.PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["email"] == "anna@peeters.example"
    set_cookies = response.headers.get_list("set-cookie")
    assert [c.split("=", 1)[0] for c in set_cookies] == ["iportal_session"]  # nothing else
    token = response.headers["x-csrf-token"]
    me = await client.get("/api/v1/me")
    assert me.json()["first_name"] == "Anna"
    assert (await client.post("/api/v1/auth/logout")).status_code == 403  # no token
    logout = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token})
    assert logout.status_code == 204
    assert (await client.get("/api/v1/me")).status_code == 401


@pytest.mark.parametrize(
    ("moved", "alive"),
    [
        (timedelta(minutes=59), True),
        (timedelta(minutes=61), False),
    ],
)
async def test_a_session_ends_after_an_idle_hour(
    client: httpx.AsyncClient,
    transaction: Any,
    monkeypatch: pytest.MonkeyPatch,
    moved: timedelta,
    alive: bool,
) -> None:
    await b2b_main_contact()
    await form_login(client, LOGIN, factories.PASSWORD)
    later = clock.utcnow() + moved
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    assert ((await client.get("/api/v1/me")).status_code == 200) is alive


async def test_a_session_ends_after_a_day_even_when_used(
    client: httpx.AsyncClient, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await b2b_main_contact()
    await form_login(client, LOGIN, factories.PASSWORD)
    start = clock.utcnow()
    for minutes in range(50, 24 * 60, 50):  # used every 50 minutes, never idle for an hour
        moment = start + timedelta(minutes=minutes)
        monkeypatch.setattr(clock, "utcnow", lambda moment=moment: moment)
        assert (await client.get("/api/v1/me")).status_code == 200
    after_a_day = start + timedelta(hours=24, minutes=1)
    monkeypatch.setattr(clock, "utcnow", lambda: after_a_day)
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_the_next_page_is_only_ever_on_this_site(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await b2b_main_contact()
    response = await form_login(client, LOGIN, factories.PASSWORD, next="https://evil.example/")
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("typed", ["de 811 907 980", "DE 811.907.980", "de811907980"])
async def test_a_foreign_vat_login_is_found_however_it_is_typed(
    client: httpx.AsyncClient, transaction: Any, typed: str
) -> None:
    issuer_id = await factories.issuer("DL5")
    number = await factories.client_number(issuer_id, "DL50000104", company_name="Schmidt GmbH")
    user_id = await factories.user("eva@schmidt.example", first_name="Eva")
    await factories.account(user_id, number, kind="b2c", login="DE811907980")
    response = await client.post(
        "/api/v1/auth/login", json={"username": typed, "password": factories.PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "eva@schmidt.example"


async def test_a_vat_login_with_a_wrong_check_digit_finds_nobody(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    user_id = await factories.user("eva@schmidt.example")
    await factories.account(user_id, kind="b2c", login="DE811907980")
    response = await client.post(
        "/api/v1/auth/login", json={"username": "de 811 907 981", "password": factories.PASSWORD}
    )
    assert response.status_code == 401
