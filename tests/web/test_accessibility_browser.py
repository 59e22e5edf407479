"""Every page through axe-core in a real browser: a real `iportal serve` on its own
database and Debian's Chromium; logged out, and logged in as each kind of person (a
business main contact with several numbers and a shared user, an accountant who is a
shared user of two companies, a private B2C client), at 390 and 1366 px. No page may
have a serious or critical violation. Then a run with the keyboard alone: log in,
filter the documents, open a PDF, mark documents read, the focus visible at every
stop. Screenshots of the settings pages at both widths in tests/artifacts/."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests import factories
from tests.browser import chromium_page, create_issuer, served_portal
from tests.demo.test_demo import Server
from tests.documents.einvoice_helpers import fixture

pytestmark = pytest.mark.browser

WIDTHS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 900}}
BLOCKING = ("serious", "critical")
ANNA = "anna@peeters.example"  # main contact of a business account with three numbers
LUC = "luc@accountants.example"  # shared user of Anna's and of Marie's company
JONAS = "jonas@maes.example"  # a private (B2C) client
MARIE = "marie@dubois.example"
NUMBERS = {
    "DL20000001": ("Peeters BV", ANNA),
    "DL20000002": ("Peeters Logistics BV", ANNA),
    "DL20000003": ("Peeters Rent BV", ANNA),
    "DL20000005": ("Dubois SA", MARIE),
    "DL20000009": ("Jonas Maes", JONAS),
}
# The language each one reads the pages in (nobody: chosen with the language switch).
LANGUAGE_OF = {None: "fr", ANNA: "nl", LUC: "en", JONAS: "de"}
SETTINGS_PAGES = (
    "/me",
    "/me/notices",
    "/me/password",
    "/me/security",
    "/me/tokens",
    "/me/forwarding",
    "/me/activity",
)
AXE_SCRIPT = ""  # read once, from the axe-playwright-python package


@dataclass
class Portal:
    server: Server
    dsn: str
    ubl_id: int = 0
    shared_user_id: int = 0
    documents: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url


async def _people(dsn: str) -> int:
    """The people, their accounts and who shares what; returns Luc's shared-user id in
    Anna's account."""
    connection = await asyncpg.connect(dsn)
    try:
        users = {}
        for email, first, last, language in (
            (ANNA, "Anna", "Peeters", "nl"),
            (MARIE, "Marie", "Dubois", "fr"),
            (LUC, "Luc", "Janssens", "en"),
            (JONAS, "Jonas", "Maes", "de"),
        ):
            users[email] = await connection.fetchval(
                "INSERT INTO portal_user (email, first_name, last_name, language, password_hash)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                email,
                first,
                last,
                language,
                factories.PASSWORD_HASH,
            )
        issuer = await connection.fetchval("SELECT id FROM issuer WHERE prefix = 'DL2'")
        accounts = {}
        for email, kind, login in (
            (ANNA, "b2b", "BE0417000129"),
            (MARIE, "b2b", "BE0815000334"),
            (JONAS, "b2c", JONAS),
        ):
            accounts[email] = await connection.fetchval(
                "INSERT INTO account (kind, login) VALUES ($1, $2) RETURNING id", kind, login
            )
            await connection.execute(
                "INSERT INTO account_membership (account_id, user_id) VALUES ($1, $2)",
                accounts[email],
                users[email],
            )
        ids = {}
        for code, (company, owner) in NUMBERS.items():
            ids[code] = await connection.fetchval(
                "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
                "contract_start, account_id, delivery_channel) "
                "VALUES ($1, $2, $3, $4, '2015-01-01', $5, 'electronic') RETURNING id",
                issuer,
                code,
                company,
                owner,
                accounts[owner],
            )
        shared = {}
        for owner, codes in ((ANNA, ("DL20000001", "DL20000002")), (MARIE, ("DL20000005",))):
            shared[owner] = await connection.fetchval(
                "INSERT INTO shared_user (account_id, user_id) VALUES ($1, $2) RETURNING id",
                accounts[owner],
                users[LUC],
            )
            for code in codes:
                await connection.execute(
                    "INSERT INTO client_number_grant (shared_user_id, client_number_id) "
                    "VALUES ($1, $2)",
                    shared[owner],
                    ids[code],
                )
        return int(shared[ANNA])
    finally:
        await connection.close()


def _publish(url: str, key: str) -> tuple[dict[str, int], int]:
    """Real documents through the issuer API: PDF invoices and credit notes, and one
    UBL e-invoice (which has a readable page)."""
    published: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {key}"}
    today = date.today()
    plan = [
        ("DL20000001", "invoice", "F2026-001", "100.00"),
        ("DL20000001", "invoice", "F2026-002", "250.00"),
        ("DL20000001", "invoice", "F2026-003", "75.50"),
        ("DL20000001", "credit_note", "C2026-001", "20.00"),
        ("DL20000002", "invoice", "F2026-101", "300.00"),
        ("DL20000005", "invoice", "F2026-501", "410.00"),
        ("DL20000009", "invoice", "F2026-901", "55.00"),
    ]
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for n, (code, kind, number, amount) in enumerate(plan):
            excl = float(amount)
            vat = round(excl * 0.21, 2)
            issued = today - timedelta(days=3 + n)
            metadata = factories.metadata(
                code,
                number,
                type=kind,
                issue_date=issued.isoformat(),
                due_date=(issued + timedelta(days=30)).isoformat(),
                amount_excl_vat=f"{excl:.2f}",
                vat_amount=f"{vat:.2f}",
                amount_incl_vat=f"{excl + vat:.2f}",
            )
            answer = http.post(
                "/api/v1/issuer/documents",
                files={"file": ("doc.pdf", factories.invoice_pdf(number, code, amount))},
                data={"metadata": json.dumps(metadata)},
            )
            assert answer.status_code == 201, answer.text
            published[number] = answer.json()["id"]
        ubl = fixture("ubl_invoice.xml").replace(b"DL20012345", b"DL20000002")
        ubl = ubl.replace(b"2024-04-02", (today - timedelta(days=1)).isoformat().encode())
        ubl = ubl.replace(b"2024-05-02", (today + timedelta(days=29)).isoformat().encode())
        answer = http.post("/api/v1/issuer/documents", files={"file": ("ubl.xml", ubl)})
        assert answer.status_code == 201, answer.text
    return published, int(answer.json()["id"])


@pytest.fixture(scope="module")
def portal(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with served_portal(server_dsn, tmp_path_factory, "a11y") as served:
        key = create_issuer(served.env, "DL2", "Test Lease NV")
        shared_user_id = asyncio.run(_people(served.dsn))
        documents, ubl_id = _publish(served.server.url, key)
        yield Portal(served.server, served.dsn, ubl_id, shared_user_id, documents)


def _axe_script() -> str:
    global AXE_SCRIPT
    if not AXE_SCRIPT:
        import axe_playwright_python

        AXE_SCRIPT = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
    return AXE_SCRIPT


async def _blocking_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(_axe_script())
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def _readable(where: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{where}:"]
    for violation in violations:
        lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"      {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            for reason in node["failureSummary"].splitlines()[1:3]:
                lines.append(f"        {reason.strip()}")
    return "\n".join(lines)


async def _log_in(page: Any, url: str, email: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("#username", email)
    await page.fill("#password", factories.PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{url}/documents")


def _pages(portal: Portal, who: str | None) -> list[str]:
    if who is None:
        return [
            "/login",
            "/activate",
            "/password-reset",
            "/password-reset/confirm?token=not-a-token",
            "/forwarding/confirm?token=not-a-token",
            "/no-such-page",
        ]
    common = ["/documents", "/client-numbers", *SETTINGS_PAGES]
    if who == ANNA:
        shared = portal.shared_user_id
        return [
            *common,
            "/documents?type=credit_note&number=nothing*",
            f"/documents/{portal.ubl_id}",
            "/client-numbers/DL20000001/forwarding",
            "/client-numbers/DL20000001/forwarding?added=inbox@exact.example",
            "/client-numbers/DL20000001/shared-users",
            "/me/activity?client_code=DL29999999",  # a refused filter
            "/client-numbers/DL20000003/opt-out",
            "/shared-users",
            f"/shared-users/{shared}",
            f"/shared-users/{shared}/remove",
            "/account/main-contact",
        ]
    if who == LUC:
        return [*common, "/client-numbers/DL20000005/forwarding"]
    return [*common, "/client-numbers/DL20000009/forwarding"]


async def test_no_page_has_a_serious_or_critical_violation(portal: Portal, artifacts: Path) -> None:
    found: list[str] = []
    checked = 0
    async with chromium_page(viewport=WIDTHS["laptop"], locale="en-GB") as page:
        context = page.context
        for who in (None, ANNA, LUC, JONAS):
            await context.clear_cookies()
            if who is None:  # in French (the people below read Dutch, English, German)
                await page.goto(f"{portal.url}/language/fr?next=/login")
            else:
                await _log_in(page, portal.url, who)
            for path in _pages(portal, who):
                await page.set_viewport_size(WIDTHS["laptop"])
                await page.goto(f"{portal.url}{path}")
                assert await page.get_attribute("html", "lang") == LANGUAGE_OF[who], path
                for width, size in WIDTHS.items():
                    await page.set_viewport_size(size)
                    violations = await _blocking_violations(page)
                    checked += 1
                    if violations:
                        found.append(
                            _readable(f"{path} as {who or 'nobody'} at {width}", violations)
                        )
                    if who == ANNA and path in SETTINGS_PAGES:
                        name = path.strip("/").replace("/", "-")
                        await page.screenshot(
                            path=str(artifacts / f"settings-{name}-{size['width']}.png"),
                            full_page=True,
                        )
        # States behind a button: a token just made, two-step verification being set up.
        await context.clear_cookies()
        await _log_in(page, portal.url, ANNA)
        for path, button, shown, state in (
            ("/me/tokens", None, "#new-token-value", "new"),
            ("/me/security", "#totp-start", "#totp-qr svg", "setup"),
        ):
            await page.set_viewport_size(WIDTHS["laptop"])
            await page.goto(f"{portal.url}{path}")
            if button:
                await page.click(button)
            else:
                await page.fill("#token-name", "Accounting software")
                await page.click("form[action='/me/tokens'] button[type=submit]")
            await page.wait_for_selector(shown)
            for width, size in WIDTHS.items():
                await page.set_viewport_size(size)
                violations = await _blocking_violations(page)
                checked += 1
                if violations:
                    found.append(_readable(f"{path} after a button at {width}", violations))
                name = path.strip("/").replace("/", "-")
                await page.screenshot(
                    path=str(artifacts / f"settings-{name}-{state}-{size['width']}.png"),
                    full_page=True,
                )
    print(f"\naxe-core: {checked} pages × widths checked")
    assert not found, "\n\n".join(found)


# The focused element, and whether a person sees where the focus is: an outline (or a
# box shadow) that is not "none".
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), id: e.id, cls: e.className, href: e.getAttribute("href"),
          type: e.type || "", text: (e.textContent || "").trim().slice(0, 40),
          visible: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0)
                   || s.boxShadow !== "none"};
}"""


async def _tab_to(page: Any, wanted: str, *, backwards: bool = False, limit: int = 80) -> Any:
    """Presses Tab (or Shift+Tab) until the focused element matches the CSS selector
    `wanted`; every element passed on the way must show its focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        await page.keyboard.press(key)
        focused = await page.evaluate(FOCUS)
        if focused is None:
            continue
        assert focused["visible"], f"the focus is invisible on {focused}"
        if await page.evaluate("s => document.activeElement.matches(s)", wanted):
            return focused
    raise AssertionError(f"{wanted} not reached with {key} in {limit} presses")


async def test_log_in_filter_open_and_mark_read_with_the_keyboard_alone(portal: Portal) -> None:
    async with chromium_page(viewport=WIDTHS["laptop"], locale="en-GB") as page:
        await page.goto(f"{portal.url}/login")
        # Log in: Tab to the fields, type, Enter.
        await _tab_to(page, "#username")
        await page.keyboard.type(ANNA)
        await _tab_to(page, "#password")
        await page.keyboard.type(factories.PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{portal.url}/documents")
        assert await page.locator("table.documents tbody tr").count() == 6

        # Filter: the number field, a prefix, Enter.
        await _tab_to(page, "#f-number")
        await page.keyboard.type("F2026-00*")
        await page.keyboard.press("Enter")
        await page.wait_for_function(
            "() => document.querySelectorAll('table.documents tbody tr').length === 3"
        )
        assert "number=F2026-00" in page.url
        rows = page.locator("table.documents tbody tr")
        assert await rows.evaluate_all("rs => rs.every(r => r.className === 'unread')")

        # Open a PDF: back from the filters into the list, to a row's PDF link, Enter.
        opened = await _tab_to(page, "a.open-pdf", backwards=True)
        async with page.expect_response(lambda r: "/pdf" in r.url) as answer:
            await page.keyboard.press("Enter")
        response = await answer.value
        assert response.status == 200 and response.headers["content-type"] == "application/pdf"
        assert opened["href"] == response.url.removeprefix(portal.url)
        await page.wait_for_url("**/pdf")  # Chromium's PDF viewer shows it
        await page.go_back()  # the browser's Back: the list again, from the server
        await page.wait_for_url("**/documents?**")
        opened_id = opened["href"].split("/")[-2]
        row = page.locator(f"tr:has(a[href='/api/v1/documents/{opened_id}/pdf'])")
        assert await row.get_attribute("class") == "read"

        # Mark the two others read: tick each with Space, then the button, Enter. The
        # opened one is left unticked: opening its PDF marked it read.
        others = await page.locator("input[name=ids]").evaluate_all(
            "boxes => boxes.map(b => b.value)"
        )
        others.remove(opened_id)
        for value in others:
            await _tab_to(page, f"input[name=ids][value='{value}']")
            await page.keyboard.press("Space")
            assert await page.locator(f"input[name=ids][value='{value}']").is_checked()
        await _tab_to(page, "#selection button[type=submit]:not([formaction])")
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert await page.locator("table.documents tbody tr.unread").count() == 0
        assert await page.locator("table.documents tbody tr.read").count() == 3
