"""Registration in a real browser (Playwright driving Debian's chromium) against a real
`iportal serve` and `iportal worker` on their own database, e-mail through the test
SMTP server: code → confirm → link from the e-mail → password → logged in on "/".
Once per language, on a phone-sized screen, with a screenshot of every step."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.accounts.opt_in_helpers import LINK, NEW_PASSWORD
from tests.browser import chromium_page
from tests.conftest import TEST_SECRET_KEY, Mailbox, _create_database, _drop_database, free_port
from tests.demo.test_demo import Server

pytestmark = pytest.mark.browser

HEADER = "client_code;company_name;enterprise_number;email;first_name;last_name;language;"
HEADER += "contract_start;aliases"
# One client per language: B2B (nl, fr), B2C by e-mail (en), outside Belgium (de).
CLIENTS = {
    "nl": ("DL20000401", "Peeters BV", "BE0417000129", "anna@peeters.example", "Anna", ""),
    "fr": ("DL50000402", "Dubois SRL", "BE0403170701", "marie@dubois.example", "Marie", ""),
    "en": ("DL20000403", "Jonas Maes", "", "jonas@maes.example", "Jonas", ""),
    "de": ("DL50000404", "Schmidt GmbH", "", "eva@schmidt.example", "Eva", "DE811569869"),
}
LOCALES = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB", "de": "de-DE"}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Portal:
    url: str
    codes: dict[str, str]  # language → activation code


def _run(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "iportal", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def portal(
    server_dsn: str, smtp_server: tuple[Mailbox, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Portal]:
    """Its own database, loaded with the issuer's own commands; the web app and the
    worker as subprocesses, mail to the test SMTP server."""
    folder = tmp_path_factory.mktemp("registration-browser")
    name = f"iportal_registration_{os.getpid()}"
    dsn = asyncio.run(_create_database(server_dsn, name))
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_") and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=dsn,
        IPORTAL_DATA_DIR=str(folder / "var"),
        IPORTAL_SECRET_KEY=TEST_SECRET_KEY,
        IPORTAL_SMTP_PORT=str(smtp_server[1]),
        IPORTAL_BASE_URL=f"http://127.0.0.1:{port}",
    )
    servers: list[Server] = []
    try:
        _run(env, "migrate")
        _run(env, "issuer", "create", "DL2", "Lease Services NV")
        _run(env, "issuer", "create", "DL5", "Lease Belgium NV")
        rows = [
            f"{code};{company};{number};{email};{first};Test;{language};2019-03-01;{alias}"
            for language, (code, company, number, email, first, alias) in CLIENTS.items()
        ]
        (folder / "clients.csv").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
        _run(env, "client-numbers", "import", str(folder / "clients.csv"))
        issued = _run(env, "activation-codes", "issue", *(c[0] for c in CLIENTS.values()))
        by_client = dict(line.split("\t")[:2] for line in issued.splitlines())
        codes = {language: by_client[c[0]] for language, c in CLIENTS.items()}
        web = Server([sys.executable, "-m", "iportal", "serve", "--port", str(port)], env, port)
        servers.append(web)
        worker = Server([sys.executable, "-m", "iportal", "worker"], env, port)
        servers.append(worker)
        web.wait_until_up()
        yield Portal(web.url, codes)
    finally:
        for server in servers:
            server.stop()
        asyncio.run(_drop_database(server_dsn, name))


async def _link_from_mail(mailbox: Mailbox, address: str, timeout: float = 30) -> str:
    """The worker sends the confirmation e-mail; the link is read from it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(mailbox.to(address)):
            match = LINK.search(message.get_body(("plain",)).get_content())
            if match:
                return match.group(1)
        await asyncio.sleep(0.3)
    raise AssertionError(f"no confirmation e-mail to {address}")


@pytest.mark.parametrize("language", list(CLIENTS))
async def test_registration_in_a_real_browser(
    portal: Portal, smtp_server: tuple[Mailbox, int], artifacts: Path, language: str
) -> None:
    mailbox, _ = smtp_server
    mailbox.messages.clear()  # an earlier test's e-mail to the same address is no link of ours
    client_code, company, _, email, first_name, _ = CLIENTS[language]
    shot = _screenshots(artifacts, language)
    code = portal.codes[language]
    async with chromium_page(viewport=PHONE, locale=LOCALES[language]) as page:
        # The invitation's link: the code is already filled in.
        await page.goto(f"{portal.url}/activate?code={code}")
        assert await page.get_attribute("html", "lang") == language
        assert await page.input_value("#code") == code
        await shot(page, "1-code")
        await page.click("main button[type=submit]")
        # Step 1: company name and e-mail address to confirm.
        await page.wait_for_url(f"{portal.url}/activate")
        assert company in (await page.text_content("main") or "")
        masked = f"{email[0]}•••@{email.split('@')[1]}"
        assert masked in (await page.text_content("main") or "")
        assert email not in (await page.content())  # only the masked address is shown
        assert await page.input_value("#email") == ""
        await page.fill("#email", email)  # typed: the address is confirmed
        await shot(page, "2-details")
        await page.click("main button[type=submit]")
        # Step 2: the mailbox.
        await page.wait_for_url(f"{portal.url}/activate/start")
        assert email in (await page.text_content("main") or "")
        await shot(page, "3-mailbox")
        link = await _link_from_mail(mailbox, email)
        # Step 3: the password, from the e-mail's link.
        await page.goto(link)
        assert client_code in (await page.text_content("main") or "")
        await shot(page, "4-password")
        await page.fill("#password", NEW_PASSWORD)
        await page.fill("#password_repeat", NEW_PASSWORD)
        await page.click("main button[type=submit]")
        # Logged in on "/", which shows the documents page once there is one.
        landed = (f"{portal.url}/", f"{portal.url}/documents")
        await page.wait_for_url(lambda url: url.split("?")[0] in landed)
        assert first_name in (await page.text_content("header") or "")
        await shot(page, "5-logged-in")
    for step in ("1-code", "2-details", "3-mailbox", "4-password", "5-logged-in"):
        assert (artifacts / f"registration-{language}-{step}.png").stat().st_size > 5_000


def _screenshots(artifacts: Path, language: str) -> Any:
    async def shot(page: Any, step: str) -> None:
        path = artifacts / f"registration-{language}-{step}.png"
        await page.screenshot(path=str(path), full_page=True)

    return shot
