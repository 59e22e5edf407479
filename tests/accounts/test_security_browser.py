"""TOTP enrolment in a real browser, in nl, fr, en and de: a real `iportal serve` on
its own database, Debian's Chromium through Playwright, screenshots of every step
in tests/artifacts/."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pyotp
import pytest

from tests import factories
from tests.browser import chromium_page, served_portal
from tests.demo.test_demo import Server

pytestmark = pytest.mark.browser
LANGUAGES = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB", "de": "de-DE"}


async def _add_people(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for language in LANGUAGES:
            await connection.execute(
                "INSERT INTO portal_user (email, first_name, last_name, language, password_hash) "
                "VALUES ($1, $2, 'Peeters', $3, $4)",
                f"totp-{language}@example.test",
                f"Anna-{language}",
                language,
                factories.PASSWORD_HASH,
            )
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def portal(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`iportal serve` on a database of its own, with one person per language."""
    with served_portal(server_dsn, tmp_path_factory, "security") as served:
        asyncio.run(_add_people(served.dsn))
        yield served.server


async def _log_in(page: Any, url: str, email: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("#username", email)
    await page.fill("#password", factories.PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_load_state()


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_totp_enrolment_and_login_in_a_real_browser(
    portal: Server, artifacts: Path, language: str
) -> None:
    email = f"totp-{language}@example.test"
    shot = artifacts / f"totp-{{}}-{language}.png"
    async with chromium_page(
        viewport={"width": 1000, "height": 900}, locale=LANGUAGES[language]
    ) as page:
        await _log_in(page, portal.url, email)
        assert await page.locator("form[action='/logout']").count() == 1
        await page.goto(f"{portal.url}/me/security")
        assert await page.get_attribute("html", "lang") == language
        await page.screenshot(path=str(shot).format("1-off"), full_page=True)

        await page.click("#totp-start")
        await page.wait_for_selector("#totp-qr svg")
        await page.screenshot(path=str(shot).format("2-enrol"), full_page=True)
        secret = "".join((await page.text_content("#totp-secret") or "").split())
        assert len(secret) == 32

        await page.fill("#totp-code", pyotp.TOTP(secret).now())
        await page.click("form[action='/me/security/totp/confirm'] button")
        await page.wait_for_selector("#recovery-codes")
        codes = await page.locator("#recovery-codes li").all_text_contents()
        assert len(codes) == 10
        await page.screenshot(path=str(shot).format("3-recovery-codes"), full_page=True)

        await page.click("form[action='/logout'] button")
        await page.wait_for_load_state()
        await _log_in(page, portal.url, email)
        assert "/login/code" in page.url
        await page.screenshot(path=str(shot).format("4-login-code"), full_page=True)
        # The next step's code: inside the ±1 drift window and never used (no waiting).
        await page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
        await page.click("form[action='/login/code'] button[type=submit]")
        await page.wait_for_load_state()
        assert "/login" not in page.url
        assert await page.locator("form[action='/logout']").count() == 1
        await page.goto(f"{portal.url}/me/security")
        assert await page.locator("#totp-status").count() == 1
        await page.screenshot(path=str(shot).format("5-on"), full_page=True)
    for step in ("1-off", "2-enrol", "3-recovery-codes", "4-login-code", "5-on"):
        assert Path(str(shot).format(step)).stat().st_size > 5_000
