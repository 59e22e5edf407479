"""Sharing in a real browser (Playwright driving Debian's chromium) against a real
`iportal serve` and `iportal worker` on their own database, e-mail through the test
SMTP server: the main contact adds a shared user and ticks one of two numbers; the
shared user follows the invitation's link, chooses a password and sees only that
number's documents; the main contact removes them and their next page shows nothing.
Screenshots of the pages in tests/artifacts/."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests import factories
from tests.browser import chromium_page
from tests.conftest import TEST_SECRET_KEY, Mailbox, _create_database, _drop_database, free_port
from tests.demo.test_demo import Server, iportal

pytestmark = pytest.mark.browser

ANNA = "anna@peeters.example"
LUC = "luc@accountants.example"
NEW_PASSWORD = "a long sentence for Luc's login"
INVITE_LINK = re.compile(r"(https?://\S+/password-reset/confirm\?token=[A-Za-z0-9_\-]+)")
SCREEN = {"width": 1200, "height": 900}


async def _load(dsn: str) -> None:
    """Anna, main contact of Peeters BV with two client numbers, two documents each."""
    connection = await asyncpg.connect(dsn)
    try:
        issuer = await connection.fetchval(
            "INSERT INTO issuer (prefix, name) VALUES ('DL2', 'Lease Services NV') RETURNING id"
        )
        anna = await connection.fetchval(
            "INSERT INTO portal_user (email, first_name, last_name, language, password_hash) "
            "VALUES ($1, 'Anna', 'Peeters', 'en', $2) RETURNING id",
            ANNA,
            factories.PASSWORD_HASH,
        )
        account = await connection.fetchval(
            "INSERT INTO account (kind, login) VALUES ('b2b', 'BE0417000129') RETURNING id"
        )
        await connection.execute(
            "INSERT INTO account_membership (account_id, user_id) VALUES ($1, $2)", account, anna
        )
        issued = date.today() - timedelta(days=20)
        for code, company in (("DL20000701", "Peeters BV"), ("DL20000702", "Peeters Logistics")):
            number = await connection.fetchval(
                "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
                "contract_start, delivery_channel, account_id) "
                "VALUES ($1, $2, $3, $4, '2015-01-01', 'electronic', $5) RETURNING id",
                issuer,
                code,
                company,
                ANNA,
                account,
            )
            for n in (1, 2):
                await connection.execute(
                    "INSERT INTO document (client_number_id, type, number, issue_date, "
                    "currency, amount_excl_vat, vat_amount, amount_incl_vat, pdf_blob_hash) "
                    "VALUES ($1, 'invoice', $2, $3, 'EUR', 100, 21, 121, $4)",
                    number,
                    f"F-{code[-3:]}-{n}",
                    issued - timedelta(days=n),
                    "0" * 64,
                )
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def portal(
    server_dsn: str, smtp_server: tuple[Mailbox, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The web app and the worker on a database of their own, mail to the test server."""
    name = f"iportal_sharing_browser_{os.getpid()}"
    dsn = asyncio.run(_create_database(server_dsn, name))
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_") and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=dsn,
        IPORTAL_DATA_DIR=str(tmp_path_factory.mktemp("sharing-browser") / "var"),
        IPORTAL_SECRET_KEY=TEST_SECRET_KEY,
        IPORTAL_SMTP_PORT=str(smtp_server[1]),
        IPORTAL_BASE_URL=f"http://127.0.0.1:{port}",
    )
    servers: list[Server] = []
    try:
        web = Server(iportal("serve", "--port", str(port)), env, port)
        servers.append(web)
        web.wait_until_up()  # serve migrates first
        asyncio.run(_load(dsn))
        servers.append(Server([sys.executable, "-m", "iportal", "worker"], env, port))
        yield web.url
    finally:
        for server in servers:
            server.stop()
        asyncio.run(_drop_database(server_dsn, name))


async def _invitation_link(mailbox: Mailbox, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(mailbox.to(LUC)):
            match = INVITE_LINK.search(message.get_body(("plain",)).get_content())
            if match:
                return match.group(1)
        await asyncio.sleep(0.3)
    raise AssertionError(f"no invitation to {LUC}")


async def _log_in(page: Any, url: str, email: str, password: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("#username", email)
    await page.fill("#password", password)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_load_state()
    assert await page.locator("form[action='/logout']").count() == 1


async def _numbers(page: Any) -> list[str]:
    """The document numbers the list shows."""
    # As shown: without the column names a phone's card adds to each value.
    cells = await page.locator("table.documents tbody tr td:nth-child(4)").all_inner_texts()
    return sorted(cell.strip() for cell in cells)


async def test_share_one_number_then_revoke_in_a_real_browser(
    portal: str, smtp_server: tuple[Mailbox, int], artifacts: Path
) -> None:
    mailbox, _ = smtp_server
    mailbox.messages.clear()
    shot = artifacts / "sharing-{}.png"
    async with chromium_page(viewport=SCREEN, locale="en-GB") as main_contact:
        await _log_in(main_contact, portal, ANNA, factories.PASSWORD)
        await main_contact.click("header a[href='/shared-users']")  # the menu offers it
        await main_contact.wait_for_url(f"{portal}/shared-users")
        await main_contact.fill("#email", LUC)
        await main_contact.fill("#first_name", "Luc")
        await main_contact.fill("#last_name", "Janssens")
        await main_contact.select_option("#language", "en")
        # The tick boxes are named by their labels, inside their fieldset's legend.
        numbers = main_contact.get_by_role("group", name="Client numbers this person may see")
        await numbers.get_by_label("DL20000701 – Peeters BV").check()
        await main_contact.click("form[action='/shared-users'] button[type=submit]")
        await main_contact.wait_for_url("**/shared-users?created=*")
        status = await main_contact.text_content("#done") or ""
        assert f"An invitation is on its way to {LUC}" in status
        row = main_contact.locator("#shared-users tbody tr", has_text=LUC)
        assert "DL20000701" in (await row.text_content() or "")
        assert "DL20000702" not in (await row.text_content() or "")
        await main_contact.screenshot(path=str(shot).format("1-shared-users"), full_page=True)
        await main_contact.goto(f"{portal}/client-numbers")
        shared_with = main_contact.locator("table.list tbody tr", has_text="DL20000701")
        assert "Luc Janssens" in (await shared_with.text_content() or "")
        nobody = main_contact.locator("table.list tbody tr", has_text="DL20000702")
        assert "Nobody" in (await nobody.text_content() or "")
        await main_contact.screenshot(path=str(shot).format("2-client-numbers"), full_page=True)

        # Luc, in a browser of his own: the e-mail's link, a password, the documents.
        link = await _invitation_link(mailbox)
        async with chromium_page(viewport=SCREEN, locale="en-GB") as shared:
            await shared.goto(link)
            await shared.fill("#password", NEW_PASSWORD)
            await shared.click("form[action='/password-reset/confirm'] button[type=submit]")
            await shared.wait_for_selector("#reset-done")
            await _log_in(shared, portal, LUC, NEW_PASSWORD)
            await shared.goto(f"{portal}/documents")
            assert await _numbers(shared) == ["F-701-1", "F-701-2"]
            assert await shared.locator("header a[href='/shared-users']").count() == 0
            await shared.screenshot(
                path=str(shot).format("3-shared-user-documents"), full_page=True
            )

            # Anna removes him; his next page shows nothing.
            await main_contact.goto(f"{portal}/shared-users")
            await main_contact.click(f"#shared-users a[href$='/remove']:has-text('{LUC}')")
            await main_contact.click("main form button[type=submit]")
            await main_contact.wait_for_url("**/shared-users?removed=1")
            assert LUC not in (await main_contact.text_content("main") or "")
            await shared.reload()
            assert await _numbers(shared) == []
            assert "No documents yet" in (await shared.text_content("main") or "")
            await shared.screenshot(path=str(shot).format("4-after-removal"), full_page=True)
    for step in (
        "1-shared-users",
        "2-client-numbers",
        "3-shared-user-documents",
        "4-after-removal",
    ):
        assert Path(str(shot).format(step)).stat().st_size > 5_000
