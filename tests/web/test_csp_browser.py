"""The Content-Security-Policy in a real browser: a real `iportal serve` on its own
database and Debian's Chromium. The pages people use (login, documents with its
filters, client numbers, security with the TOTP QR code, API tokens) run under it
without a single violation or console error, and the policy really is enforced: an
inline script injected into a page is blocked and reported."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests import factories
from tests.browser import chromium_page, served_portal
from tests.demo.test_demo import Server

pytestmark = pytest.mark.browser
EMAIL = "csp@example.test"
# Every violation, as the page sees it; kept on the window so the test can read it.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`);
});
"""


async def _add_anna(dsn: str) -> None:
    """Anna, main contact of one client number with a few documents."""
    connection = await asyncpg.connect(dsn)
    try:
        user_id = await connection.fetchval(
            "INSERT INTO portal_user (email, first_name, last_name, language, password_hash) "
            "VALUES ($1, 'Anna', 'Peeters', 'en', $2) RETURNING id",
            EMAIL,
            factories.PASSWORD_HASH,
        )
        issuer_id = await connection.fetchval(
            "INSERT INTO issuer (prefix, name) VALUES ('DL2', 'Test Lease NV') RETURNING id"
        )
        account_id = await connection.fetchval(
            "INSERT INTO account (kind, login) VALUES ('b2b', 'BE0417000129') RETURNING id"
        )
        await connection.execute(
            "INSERT INTO account_membership (account_id, user_id) VALUES ($1, $2)",
            account_id,
            user_id,
        )
        number_id = await connection.fetchval(
            "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
            "contract_start, account_id, delivery_channel) "
            "VALUES ($1, 'DL20000001', 'Peeters BV', $2, '2015-01-01', $3, 'electronic') "
            "RETURNING id",
            issuer_id,
            EMAIL,
            account_id,
        )
        for n, kind in enumerate(("invoice", "invoice", "credit_note"), start=1):
            await connection.execute(
                "INSERT INTO document (client_number_id, type, number, issue_date, "
                "amount_excl_vat, vat_amount, amount_incl_vat, pdf_blob_hash) "
                "VALUES ($1, $2, $3, $4, 100, 21, 121, $5)",
                number_id,
                kind,
                f"F-{n}",
                date.today() - timedelta(days=n),
                "0" * 64,
            )
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def portal(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with served_portal(server_dsn, tmp_path_factory, "csp") as served:
        asyncio.run(_add_anna(served.dsn))
        yield served.server


async def _visit(page: Any, url: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.ok, url
    policy = await response.header_value("content-security-policy")
    assert policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy


async def _violations(page: Any) -> list[str]:
    return list(await page.evaluate("window.__violations"))


async def test_the_pages_run_under_the_policy_without_violations(
    portal: Server, artifacts: Path
) -> None:
    errors: list[str] = []
    async with chromium_page(viewport={"width": 1200, "height": 900}, locale="en-GB") as page:
        await page.add_init_script(WATCH_VIOLATIONS)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        # Browsers ask for /favicon.ico on their own; the portal has none.
        page.on(
            "response",
            lambda r: (
                errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        seen: list[str] = []

        await _visit(page, f"{portal.url}/login")
        seen += await _violations(page)
        await page.fill("#username", EMAIL)
        await page.fill("#password", factories.PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url(f"{portal.url}/documents")

        # documents.js is a file of ours: the filters work in place, under the policy.
        await _visit(page, f"{portal.url}/documents")
        assert await page.locator("table.documents tbody tr").count() == 3
        await page.select_option("#f-type", "credit_note")
        await page.wait_for_url("**type=credit_note**")
        await page.wait_for_function(
            "document.querySelectorAll('table.documents tbody tr').length === 1"
        )
        seen += await _violations(page)

        await _visit(page, f"{portal.url}/client-numbers")
        seen += await _violations(page)

        await _visit(page, f"{portal.url}/shared-users")
        assert await page.locator("fieldset.ticks legend").count() == 1
        seen += await _violations(page)

        await _visit(page, f"{portal.url}/me/security")
        await page.click("#totp-start")
        await page.wait_for_selector("#totp-qr svg")
        assert (await page.locator("#totp-qr svg").bounding_box() or {}).get("width", 0) > 100
        # The styles that were inline attributes now come from app.css.
        spacing = "e => getComputedStyle(e).letterSpacing"
        assert await page.locator("#totp-secret").evaluate(spacing) != "normal"
        assert await page.locator("#totp-qr").evaluate("e => getComputedStyle(e).margin") == "0px"
        await page.screenshot(path=str(artifacts / "csp-totp.png"), full_page=True)
        seen += await _violations(page)

        await _visit(page, f"{portal.url}/me/tokens")
        await page.fill("#token-name", "script")
        await page.click("form[action='/me/tokens'] button[type=submit]")
        await page.wait_for_selector("#new-token-value")
        assert (
            await page.locator("#new-token-value").evaluate("e => getComputedStyle(e).wordBreak")
            == "break-all"
        )
        seen += await _violations(page)

        assert seen == [], seen
        not_found = "Failed to load resource: the server responded with a status of 404"
        assert [e for e in errors if not e.startswith(not_found)] == [], errors

        # The policy is enforced, and this test would see a violation: an injected
        # inline script does not run, and is reported.
        await page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.__ran = true'; document.body.append(s); }"
        )
        await page.wait_for_function("window.__violations.length > 0")
        assert await page.evaluate("window.__ran === undefined")
        assert any("script-src" in v for v in await _violations(page))
