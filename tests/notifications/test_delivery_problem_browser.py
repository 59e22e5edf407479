"""E-mail that cannot be delivered, seen in a real browser (Playwright driving Debian's
chromium) against a real `iportal serve` and `iportal worker` on their own database:
the mail server refuses Rik's address when the worker sends (550), and a delivery
status notification about Bea's message comes back later to the worker's bounce
listener (5.1.1). Neither is tried again, however long the worker runs; what comes
after for them is held; each of them, logged in, reads what happened on their settings
page. Screenshots in tests/artifacts/delivery-problem-*.png."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import pytest
from aiosmtpd.controller import Controller

from iportal.notifications.services import render_email
from tests import factories
from tests.browser import chromium_page
from tests.conftest import TEST_SECRET_KEY, _create_database, _drop_database, free_port
from tests.demo.test_demo import Server, iportal
from tests.notifications.test_bounces import report

pytestmark = pytest.mark.browser

RIK = "rik@refused.example"  # refused by the mail server when sent
BEA = "bea@bounced.example"  # taken, then reported undeliverable
FINE = "fine@taken.example"  # everything to it arrives
SCREEN = {"width": 1200, "height": 900}


@dataclass
class PickyServer:
    """A mail server that has no mailbox for Rik (550 at RCPT) and takes the rest,
    remembering every recipient tried and each message's envelope sender."""

    tried: list[str] = field(default_factory=list)
    taken: list[tuple[str, str]] = field(default_factory=list)  # (recipient, MAIL FROM)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.tried.append(address)
        if address == RIK:
            return "550 5.1.1 <rik@refused.example>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.taken += [(to, envelope.mail_from) for to in envelope.rcpt_tos]
        return "250 OK"

    def senders_to(self, address: str) -> list[str]:
        return [sender for to, sender in self.taken if to == address]


@dataclass
class Portal:
    url: str
    dsn: str
    mail: PickyServer
    bounce_port: int


async def _load(dsn: str) -> None:
    """Rik and Bea, each the main contact of an account of their own."""
    connection = await asyncpg.connect(dsn)
    try:
        for email, first_name in ((RIK, "Rik"), (BEA, "Bea")):
            user = await connection.fetchval(
                "INSERT INTO portal_user (email, first_name, last_name, language, "
                "password_hash) VALUES ($1, $2, 'Claes', 'en', $3) RETURNING id",
                email,
                first_name,
                factories.PASSWORD_HASH,
            )
            account = await connection.fetchval(
                "INSERT INTO account (kind, login) VALUES ('b2b', $1) RETURNING id",
                f"login-{first_name.lower()}",
            )
            await connection.execute(
                "INSERT INTO account_membership (account_id, user_id) VALUES ($1, $2)",
                account,
                user,
            )
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def portal(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The web app and the worker (with its bounce listener) on a database of their
    own, sending to the picky mail server."""
    name = f"iportal_delivery_browser_{os.getpid()}"
    dsn = asyncio.run(_create_database(server_dsn, name))
    mail, smtp_port, web_port, bounce_port = PickyServer(), free_port(), free_port(), free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("IPORTAL_") and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=dsn,
        IPORTAL_DATA_DIR=str(tmp_path_factory.mktemp("delivery-browser") / "var"),
        IPORTAL_SECRET_KEY=TEST_SECRET_KEY,
        IPORTAL_SMTP_PORT=str(smtp_port),
        IPORTAL_BOUNCE_LISTEN=f"127.0.0.1:{bounce_port}",
        IPORTAL_BASE_URL=f"http://127.0.0.1:{web_port}",
    )
    servers: list[Server] = []
    try:
        web = Server(iportal("serve", "--port", str(web_port)), env, web_port)
        servers.append(web)
        web.wait_until_up()  # serve migrates first
        asyncio.run(_load(dsn))
        servers.append(Server([sys.executable, "-m", "iportal", "worker"], env, web_port))
        yield Portal(web.url, dsn, mail, bounce_port)
    finally:
        for server in servers:
            server.stop()
        controller.stop()
        asyncio.run(_drop_database(server_dsn, name))


async def _queue(connection: Any, recipient: str) -> int:
    """An e-mail in the outbox, as the product queues it; its id."""
    rendered = render_email("mail_check", "en", {"base_url": "http://x"})
    return int(
        await connection.fetchval(
            "INSERT INTO outbox_email (recipient, language, template, subject, body_text, "
            "body_html, list_unsubscribe, state, attempts, next_attempt_at, last_error, "
            "created_at) VALUES ($1, 'en', 'mail_check', $2, $3, $4, '', 'pending', 0, "
            "now(), '', now()) RETURNING id",
            recipient,
            rendered.subject,
            rendered.body_text,
            rendered.body_html,
        )
    )


async def _rows(connection: Any, ids: list[int]) -> list[tuple[str, int]]:
    """(state, attempts) of these outbox rows, in this order."""
    rows = await connection.fetch(
        "SELECT id, state, attempts FROM outbox_email WHERE id = ANY($1::bigint[])", ids
    )
    by_id = {row["id"]: (row["state"], row["attempts"]) for row in rows}
    return [by_id[i] for i in ids]


async def _until(connection: Any, ids: list[int], expected: list[tuple[str, int]]) -> None:
    for _ in range(300):
        if await _rows(connection, ids) == expected:
            return
        await asyncio.sleep(0.1)
    assert await _rows(connection, ids) == expected


async def _arrived(portal: Portal, address: str, count: int) -> None:
    for _ in range(300):
        if len(portal.mail.senders_to(address)) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing arrived for {address}")


async def _problem_kinds(connection: Any) -> dict[str, str]:
    rows = await connection.fetch(
        "SELECT email, kind FROM delivery_problem WHERE cleared_at IS NULL"
    )
    return {row["email"]: row["kind"] for row in rows}


async def _log_in(page: Any, url: str, email: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("#username", email)
    await page.fill("#password", factories.PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_load_state()
    assert await page.locator("form[action='/logout']").count() == 1


async def test_a_refused_and_a_bounced_address_are_not_retried_and_the_person_sees_why(
    portal: Portal, artifacts: Path
) -> None:
    connection = await asyncpg.connect(portal.dsn)
    try:
        # Rik's is refused at once; Bea's is taken, and reported undeliverable later.
        refused, taken = await _queue(connection, RIK), await _queue(connection, BEA)
        await _until(connection, [refused, taken], [("failed", 1), ("sent", 1)])
        [return_path] = portal.mail.senders_to(BEA)
        await aiosmtplib.send(
            report(return_path, BEA, "5.1.1"),
            sender="MAILER-DAEMON@mx.example",
            recipients=[return_path],
            hostname="127.0.0.1",
            port=portal.bounce_port,
        )
        await _until(connection, [refused, taken], [("failed", 1), ("failed", 1)])
        assert await _problem_kinds(connection) == {RIK: "refused", BEA: "bounced"}

        # What comes next for them is held, not attempted.
        later = [await _queue(connection, RIK), await _queue(connection, BEA)]
        await _until(connection, later, [("held", 0), ("held", 0)])
        # No retry loop: days later by their own times, and after the worker has gone
        # round again (a message to a good address went out meanwhile), nothing of
        # theirs was claimed or tried again.
        await connection.execute(
            "UPDATE outbox_email SET next_attempt_at = next_attempt_at - interval '6 days', "
            "created_at = created_at - interval '6 days' WHERE id = ANY($1::bigint[])",
            [refused, taken, *later],
        )
        for round_ in range(1, 4):
            await _queue(connection, FINE)
            await _arrived(portal, FINE, round_)
        assert await _rows(connection, [refused, taken, *later]) == [
            ("failed", 1),
            ("failed", 1),
            ("held", 0),
            ("held", 0),
        ]
        assert portal.mail.tried.count(RIK) == 1
        assert len(portal.mail.senders_to(BEA)) == 1
    finally:
        await connection.close()

    shot = str(artifacts / "delivery-problem-{}.png")
    for person, step, words in (
        (RIK, "1-refused", f"The mail server of {RIK} refused our e-mail."),
        (BEA, "2-bounced", f"Our e-mail to {BEA} came back undelivered."),
    ):
        async with chromium_page(viewport=SCREEN, locale="en-GB") as page:
            await _log_in(page, portal.url, person)
            # Every page says so; its link leads to the settings page's explanation.
            banner = page.locator("#delivery-banner")
            assert f"E-mails to {person} do not arrive." in (await banner.text_content() or "")
            if step == "1-refused":
                await page.screenshot(path=shot.format("0-banner"), full_page=True)
            await banner.locator("a[href='/me#delivery-problem']").click()
            await page.wait_for_url(f"{portal.url}/me#delivery-problem")
            problem = page.locator("#delivery-problem")
            assert await problem.is_visible()
            text = " ".join((await problem.text_content() or "").split())
            assert words in text
            assert "Until you confirm your address, we keep your e-mails" in text
            assert await page.locator("#confirm-address").is_visible()
            await page.screenshot(path=shot.format(step), full_page=True)
    for step in ("0-banner", "1-refused", "2-bounced"):
        assert Path(shot.format(step)).stat().st_size > 5_000
