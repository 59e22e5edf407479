"""Password reset by an e-mailed single-use link (valid one hour, never telling
whether an address has an account), and the logged-in password change; both end
sessions."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from iportal.accounts.tables import AuditEvent, PasswordReset, UserSession
from tests import factories
from tests.accounts.security_support import (
    Clock,
    api_login,
    client_from,
    deliver_mail,
    link_in,
    logged_in,
    make_app,
    person,
    step_start,
    token_of,
)
from tests.helpers import csrf_from, main_text

NEW_PASSWORD = "the river flows past seven bridges"
RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"


async def reset_token(
    http: httpx.AsyncClient, settings: Any, mailbox: Any, email: str, language: str = "en"
) -> str:
    """Ask for a link and take it from the e-mail the SMTP server received."""
    assert (await http.post(RESET, json={"email": email})).status_code == 202
    await deliver_mail(settings)
    messages = mailbox.to(email)
    assert messages, "no e-mail arrived"
    assert messages[-1]["Content-Language"] == language
    return token_of(link_in(messages[-1], "/password-reset/confirm"))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch, step_start())


async def test_asking_for_a_link_answers_the_same_for_every_address(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Any
) -> None:
    anna = await person("anna@peeters.example")
    known = await client.post(RESET, json={"email": "Anna@Peeters.example "})
    unknown = await client.post(RESET, json={"email": "nobody@peeters.example"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert "If an account uses this address" in known.json()["detail"]
    pages = []
    for email in (anna["email"], "nobody@peeters.example"):
        token = csrf_from((await client.get("/password-reset")).text)
        page = await client.post("/password-reset", data={"csrf_token": token, "email": email})
        pages.append((page.status_code, main_text(page.text)))
    assert pages[0] == pages[1]
    await deliver_mail(settings)
    assert len(mailbox.to(anna["email"])) == 2 and not mailbox.to("nobody@peeters.example")


async def test_the_link_sets_a_new_password_once_and_ends_every_session(
    settings: Any, transaction: Any, mailbox: Any, clock: Clock
) -> None:
    anna = await person(language="nl")
    app = make_app(settings)
    async with client_from(app, "192.0.2.1") as laptop, client_from(app, "192.0.2.2") as phone:
        await logged_in(laptop, anna["email"])
        await logged_in(phone, anna["email"])
        async with client_from(app, "192.0.2.3") as anonymous:
            token = await reset_token(anonymous, settings, mailbox, anna["email"], "nl")
            stored = await PasswordReset.select(PasswordReset.token_hash)
            assert token not in stored[0]["token_hash"]  # only a keyed hash is kept
            done = await anonymous.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
            assert done.status_code == 204
            again = await anonymous.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
            assert again.status_code == 410
            assert (await api_login(anonymous, anna["email"])).status_code == 401
            anonymous.cookies.clear()
            assert (await api_login(anonymous, anna["email"], NEW_PASSWORD)).status_code == 200
        assert (await laptop.get("/api/v1/me")).status_code == 401
        assert (await phone.get("/api/v1/me")).status_code == 401
    events = await AuditEvent.select(AuditEvent.kind).where(AuditEvent.actor == anna["id"])
    kinds = [e["kind"] for e in events]
    assert "password_reset_requested" in kinds and "password_reset" in kinds


@pytest.mark.parametrize(("minutes", "status"), [(59, 204), (61, 410)])
async def test_the_link_is_valid_for_one_hour(
    client: httpx.AsyncClient,
    transaction: Any,
    settings: Any,
    mailbox: Any,
    clock: Clock,
    minutes: int,
    status: int,
) -> None:
    anna = await person()
    token = await reset_token(client, settings, mailbox, anna["email"])
    clock.move(minutes=minutes)
    response = await client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})
    assert response.status_code == status
    if status == 410:
        assert "Ask for a new one" in response.json()["detail"]


async def test_a_refused_password_keeps_the_link_and_a_used_link_voids_the_others(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Any, clock: Clock
) -> None:
    anna = await person()
    first = await reset_token(client, settings, mailbox, anna["email"])
    second = await reset_token(client, settings, mailbox, anna["email"])
    weak = await client.post(CONFIRM, json={"token": second, "password": "password1234"})
    assert weak.status_code == 422 and "too easy to guess" in weak.json()["detail"]
    short = await client.post(CONFIRM, json={"token": second, "password": "short"})
    assert short.status_code == 422
    ok = await client.post(CONFIRM, json={"token": second, "password": NEW_PASSWORD})
    assert ok.status_code == 204
    older = await client.post(CONFIRM, json={"token": first, "password": NEW_PASSWORD + "!"})
    assert older.status_code == 410
    forged = await client.post(CONFIRM, json={"token": "x" * 43, "password": NEW_PASSWORD})
    assert forged.status_code == 410


async def test_asking_is_throttled_per_address_alike_for_every_address(
    settings: Any, transaction: Any, clock: Clock
) -> None:
    anna = await person()
    async with client_from(make_app(settings), "192.0.2.1") as http:
        answers = []
        for n in range(11):
            email = anna["email"] if n % 2 else f"ghost{n}@example.test"
            answers.append((await http.post(RESET, json={"email": email})).status_code)
        assert answers == [202] * 10 + [429]
        unknown = await http.post(RESET, json={"email": "ghost@example.test"})
        known = await http.post(RESET, json={"email": anna["email"]})
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    async with client_from(make_app(settings), "192.0.2.2") as elsewhere:
        assert (await elsewhere.post(RESET, json={"email": anna["email"]})).status_code == 202


async def test_the_reset_pages(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Any, clock: Clock
) -> None:
    anna = await person()
    await client.get("/password-reset")
    token = await reset_token(client, settings, mailbox, anna["email"])
    form = await client.get(f"/password-reset/confirm?token={token}")
    assert form.status_code == 200 and 'name="password"' in form.text
    done = await client.post(
        "/password-reset/confirm",
        data={"csrf_token": csrf_from(form.text), "token": token, "password": NEW_PASSWORD},
    )
    assert done.status_code == 200 and "Your new password is set" in done.text
    used = await client.get(f"/password-reset/confirm?token={token}")
    assert used.status_code == 410 and "Ask for a new link" in used.text


async def test_changing_the_password_ends_every_other_session(
    settings: Any, transaction: Any, clock: Clock
) -> None:
    anna = await person()
    app = make_app(settings)
    async with client_from(app, "192.0.2.1") as laptop, client_from(app, "192.0.2.2") as phone:
        csrf = await logged_in(laptop, anna["email"])
        await logged_in(phone, anna["email"])
        change = "/api/v1/me/password"
        wrong = await laptop.post(
            change,
            json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
            headers=csrf,
        )
        assert wrong.status_code == 422 and "current password" in wrong.json()["detail"]
        weak = await laptop.post(
            change,
            json={"current_password": factories.PASSWORD, "new_password": "qwertyuiop123"},
            headers=csrf,
        )
        assert weak.status_code == 422
        assert (await phone.get("/api/v1/me")).status_code == 200  # nothing changed yet
        done = await laptop.post(
            change,
            json={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD},
            headers=csrf,
        )
        assert done.status_code == 204
        assert (await laptop.get("/api/v1/me")).status_code == 200  # this session stays
        assert (await phone.get("/api/v1/me")).status_code == 401
        phone.cookies.clear()
        assert (await api_login(phone, anna["email"], NEW_PASSWORD)).status_code == 200
    changed = await AuditEvent.count().where(AuditEvent.kind == "password_changed")
    assert changed == 1


async def test_the_password_page_changes_it(
    client: httpx.AsyncClient, transaction: Any, clock: Clock
) -> None:
    anna = await person()
    await logged_in(client, anna["email"])
    page = await client.get("/me/password")
    assert page.status_code == 200
    done = await client.post(
        "/me/password",
        data={
            "csrf_token": csrf_from(page.text),
            "current_password": factories.PASSWORD,
            "new_password": NEW_PASSWORD,
        },
    )
    assert done.status_code == 200 and "Your password is changed" in done.text


async def test_logout_ends_the_session_and_only_that_one(
    settings: Any, transaction: Any, clock: Clock
) -> None:
    anna = await person()
    app = make_app(settings)
    async with client_from(app, "192.0.2.1") as laptop, client_from(app, "192.0.2.2") as phone:
        csrf = await logged_in(laptop, anna["email"])
        await logged_in(phone, anna["email"])
        session_cookie = laptop.cookies["iportal_session"]
        assert (await laptop.post("/api/v1/auth/logout", headers=csrf)).status_code == 204
        laptop.cookies.set("iportal_session", session_cookie)  # replayed after logout
        assert (await laptop.get("/api/v1/me")).status_code == 401
        assert (await phone.get("/api/v1/me")).status_code == 200
    live = await UserSession.count().where(UserSession.revoked_at.is_null())
    assert live == 1


async def new_token(http: httpx.AsyncClient, csrf: dict[str, str], name: str) -> str:
    made = await http.post("/api/v1/me/tokens", json={"name": name}, headers=csrf)
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def reads(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_taking_the_account_back_with_a_link_ends_the_intruders_tokens(
    settings: Any, transaction: Any, mailbox: Any, clock: Clock
) -> None:
    anna = await person()
    app = make_app(settings)
    async with client_from(app, "192.0.2.66") as intruder, client_from(app, "192.0.2.1") as owner:
        token = await new_token(intruder, await logged_in(intruder, anna["email"]), "mine now")
        assert (await intruder.get("/api/v1/documents", headers=reads(token))).status_code == 200
        link = await reset_token(owner, settings, mailbox, anna["email"])
        done = await owner.post(CONFIRM, json={"token": link, "password": NEW_PASSWORD})
        assert done.status_code == 204
        assert (await intruder.get("/api/v1/documents", headers=reads(token))).status_code == 401
        assert (await intruder.get("/api/v1/me", headers=reads(token))).status_code == 401
    event = await AuditEvent.select(AuditEvent.detail).where(AuditEvent.kind == "password_reset")
    assert json.loads(event[0]["detail"]) == {"sessions_ended": 1, "tokens_ended": 1}
    await deliver_mail(settings)
    said = mailbox.to(anna["email"])[-1]
    body = said.get_body(preferencelist=("plain",)).get_content()
    assert "Your password was changed" in str(said["Subject"])
    assert "API tokens" in body and "/me/tokens" in body
    assert "/password-reset" in body  # if it was not the owner: choose a new one at once


async def test_changing_the_password_ends_the_tokens_too_and_the_email_says_so(
    settings: Any, transaction: Any, mailbox: Any, clock: Clock
) -> None:
    anna = await person(language="fr")
    async with client_from(make_app(settings), "192.0.2.1") as laptop:
        csrf = await logged_in(laptop, anna["email"])
        tokens = [await new_token(laptop, csrf, name) for name in ("one", "two")]
        done = await laptop.post(
            "/api/v1/me/password",
            json={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD},
            headers=csrf,
        )
        assert done.status_code == 204
        for token in tokens:
            assert (await laptop.get("/api/v1/me", headers=reads(token))).status_code == 401
        assert (await laptop.get("/api/v1/me")).status_code == 200  # this session stays
        assert (await laptop.get("/api/v1/me/tokens")).json() == []
    await deliver_mail(settings)
    said = mailbox.to(anna["email"])
    assert len(said) == 1 and said[0]["Content-Language"] == "fr"
    assert "jetons API" in said[0].get_body(preferencelist=("plain",)).get_content()
