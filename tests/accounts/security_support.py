"""Helpers for the login-security tests: clients from a given address, a clock the
test moves, API logins, TOTP codes for an explicit moment, links from e-mails."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from iportal import clock
from tests import factories

STEP = 30
LOGIN_FAILED = {"status_code": 401, "detail": "The username or password is not correct."}


def make_app(settings: Any) -> Any:
    """Another instance of the web app, as a second web process would run it; tests
    own the connection pool (and, in most tests, the transaction)."""
    from iportal.app import create_app

    return create_app(settings, manage_pool=False)


@asynccontextmanager
async def client_from(app: Any, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` whose requests come from the address `ip`."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


class Clock:
    """`iportal.clock.utcnow` held still, moved only by the test (never slept)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime) -> None:
        self.now = start
        monkeypatch.setattr(clock, "utcnow", lambda: self.now)

    def move(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def step_start() -> datetime:
    """Ten seconds into the next TOTP step: codes of this moment are stable, and the
    moment is after anything the database stamped with its own `now()`."""
    seconds = (int(datetime.now(UTC).timestamp()) // STEP + 1) * STEP + 10
    return datetime.fromtimestamp(seconds, UTC)


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


async def person(email: str | None = None, **values: Any) -> dict[str, Any]:
    values.setdefault("first_name", "Anna")
    values.setdefault("last_name", "Peeters")
    email = email or f"person-{secrets.token_hex(4)}@example.test"
    user_id = await factories.user(email, **values)
    return {"id": user_id, "email": email}


async def api_login(
    http: httpx.AsyncClient,
    username: str,
    password: str = factories.PASSWORD,
    totp: str | None = None,
) -> httpx.Response:
    body = {"username": username, "password": password}
    if totp is not None:
        body["totp"] = totp
    return await http.post("/api/v1/auth/login", json=body)


async def logged_in(http: httpx.AsyncClient, username: str, **kw: Any) -> dict[str, str]:
    """Log in through the API; returns the headers a cookie-authenticated call needs."""
    response = await api_login(http, username, **kw)
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.headers["x-csrf-token"]}


async def enrol(http: httpx.AsyncClient, csrf: dict[str, str], moment: datetime) -> dict[str, Any]:
    """Turn TOTP on through the API at `moment`; the secret and the recovery codes."""
    started = await http.post("/api/v1/me/totp", headers=csrf)
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    confirmed = await http.post(
        "/api/v1/me/totp/confirm", json={"code": code_at(secret, moment)}, headers=csrf
    )
    assert confirmed.status_code == 200, confirmed.text
    return {"secret": secret, "recovery_codes": confirmed.json()["recovery_codes"]}


def link_in(message: Any, path: str) -> str:
    """The link to `path` in an e-mail's plain-text body."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https?://\S+{re.escape(path)}\S*", body)
    assert match, body
    return match.group(0)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


class CountingHasher:
    """Stands in for `iportal.security.PASSWORD_HASHER`: counts verifications."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.verified = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return bool(self.real.verify(password_hash, password))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return getattr(self.real, name)  # type: ignore[no-any-return]


async def deliver_mail(settings: Any) -> None:
    """What `iportal worker` does in a round: the links asked for (reset requests and
    notices), then the outbox, to the test SMTP server."""
    from iportal.accounts import services
    from iportal.notifications.mailer import SmtpMailer
    from iportal.notifications.services import deliver_due

    await services.send_password_reset_links(settings)
    await deliver_due(SmtpMailer(settings), settings.mail_from)
