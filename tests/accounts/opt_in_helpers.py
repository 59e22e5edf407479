"""Helpers for the opt-in tests: a client number with a fresh activation code, the
confirmation link read from the e-mail the real SMTP server received, logins."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from iportal.accounts.services import issue_activation_code
from iportal.accounts.tables import ClientNumber, ClientNumberAlias, Issuer
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.services import deliver_due
from iportal.settings import get_settings
from tests import factories
from tests.conftest import Mailbox

NEW_PASSWORD = "our van has three green doors"
LINK = re.compile(r"(https?://\S+/activate/confirm\?token=[A-Za-z0-9_\-]+)")


@dataclass(frozen=True)
class Invited:
    client_number_id: int
    client_code: str
    code: str


async def issuer_id(prefix: str) -> int:
    row = await Issuer.select(Issuer.id).where(Issuer.prefix == prefix).first()
    return int(row["id"]) if row else await factories.issuer(prefix, f"{prefix} Lease NV")


async def invited(
    client_code: str,
    *,
    email: str = "anna@peeters.example",
    language: str = "nl",
    company_name: str = "Peeters BV",
    enterprise_number: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Invited:
    """A client number on paper and a fresh activation code for it."""
    prefix = client_code[:3]
    number = await factories.client_number(
        await issuer_id(prefix),
        client_code,
        company_name=company_name,
        email=email,
        first_name="Anna",
        last_name="Peeters",
        language=language,
        enterprise_number=enterprise_number,
        contract_start=date(2019, 3, 1),
    )
    for alias in aliases:
        await ClientNumberAlias.insert(
            ClientNumberAlias(issuer=await issuer_id(prefix), client_number=number, reference=alias)
        )
    issued = await issue_activation_code(get_settings(), number)
    return Invited(number, client_code, issued.code)


async def new_code(client_number_id: int) -> str:
    return (await issue_activation_code(get_settings(), client_number_id)).code


async def confirmation_link(settings: Any, mailbox: Mailbox, address: str) -> str:
    """Sends what the outbox holds (the worker's step) and reads the link from the
    last e-mail to `address`."""
    await deliver_due(SmtpMailer(settings), settings.mail_from)
    messages = mailbox.to(address)
    assert messages, f"no e-mail to {address}"
    text = messages[-1].get_body(("plain",)).get_content()
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def start(client: httpx.AsyncClient, code: str, email: str) -> httpx.Response:
    return await client.post("/api/v1/activation/start", json={"code": code, "email": email})


async def token_for(
    client: httpx.AsyncClient, settings: Any, mailbox: Mailbox, code: str, email: str
) -> str:
    """Steps 1 and 2 through the API; the token from the e-mail's link."""
    assert (await client.post("/api/v1/activation/check", json={"code": code})).status_code == 200
    assert (await start(client, code, email)).status_code == 202
    return token_of(await confirmation_link(settings, mailbox, email.strip().lower()))


async def complete(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/api/v1/activation/complete", json={"token": token, "password": password}
    )


async def register(
    client: httpx.AsyncClient,
    settings: Any,
    mailbox: Mailbox,
    code: str,
    email: str,
    password: str = NEW_PASSWORD,
) -> httpx.Response:
    """The three steps through the API."""
    return await complete(client, await token_for(client, settings, mailbox, code, email), password)


async def api_login(
    client: httpx.AsyncClient, username: str, password: str = factories.PASSWORD
) -> dict[str, str]:
    """Logs the client in afresh; the headers a cookie-authenticated API call needs."""
    client.cookies.clear()
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.headers["x-csrf-token"]}


async def number_row(client_number_id: int) -> dict[str, Any]:
    rows = await ClientNumber.raw("SELECT * FROM client_number WHERE id = {}", client_number_id)
    assert rows
    return dict(rows[0])
