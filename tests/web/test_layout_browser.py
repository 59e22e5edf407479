"""Every page fits the screen, in a real browser: a real `iportal serve` on its own
database and Debian's Chromium visit each page, logged out and as each kind of person
(a B2B main contact with several numbers of two companies, a shared user who sees
three companies, a B2C client), in the four languages, at 320, 390 and 1280 px. No page
scrolls sideways and nothing is cut inside a scrolling box; at 1280 and 1366 px every
link of the documents' Files column is in full view. Screenshots of the main pages at 390 and
1366 px in tests/artifacts/layout-*.png.

One browser, one context per person, one tab each; a page is loaded once per language
and measured at the three widths by resizing the window."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pyotp
import pytest

from tests import factories
from tests.browser import chromium_page, served_portal
from tests.conftest import ROOT
from tests.demo.test_demo import iportal

pytestmark = pytest.mark.browser

LANGUAGES = ("nl", "fr", "en", "de")
WIDTHS = (1280, 390, 320)
SCREENSHOT_WIDTHS = (390, 1366)
ANNA = "anna.peeters@brouwerij-peeters.example"
LUC = "luc.janssens@boekhouding-janssens.example"
JONAS = "jonas.maes@example.be"
NOT_ACTIVE = "DL20000401"
UBL = ROOT / "tests" / "documents" / "fixtures" / "ubl_invoice.xml"
CONFIRM_LINK = re.compile(r"/activate/confirm\?token=[A-Za-z0-9_\-]+")

# The document's width against the window's, and what sticks out or is cut: boxes past
# the right edge, and scrolling boxes whose content is wider than they are.
MEASURE = """() => {
  const width = window.innerWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (typeof e.className === "string" && e.className
       ? "." + e.className.trim().split(/\\s+/).join(".") : "");
  const out = [], cut = [];
  for (const e of document.body.querySelectorAll("*")) {
    const box = e.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    if (box.right > width + 0.5 && out.length < 5)
      out.push(`${name(e)} ends at ${Math.round(box.right)}`);
    const style = getComputedStyle(e);
    if (["auto", "scroll", "hidden"].includes(style.overflowX) && e.scrollWidth > e.clientWidth + 1
        && style.textOverflow !== "ellipsis" && cut.length < 5)
      cut.push(`${name(e)} holds ${e.scrollWidth} in ${e.clientWidth}`);
  }
  return {scroll: document.documentElement.scrollWidth, width, out, cut};
}"""
# Each link or button of the Files column, and whether it is fully in view: inside the
# window and inside every box around it that clips.
FILES_IN_VIEW = """() => {
  const hidden = [];
  const controls = document.querySelectorAll(
    "table.documents td.files a, table.documents td.files button");
  for (const e of controls) {
    const box = e.getBoundingClientRect();
    let right = window.innerWidth, left = 0;
    for (let p = e.parentElement; p; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") {
        const clip = p.getBoundingClientRect();
        right = Math.min(right, clip.right); left = Math.max(left, clip.left);
      }
    }
    if (box.right > right + 0.5 || box.left < left - 0.5 || box.width < 1)
      hidden.push(`${e.textContent.trim()} at ${Math.round(box.left)}-${Math.round(box.right)}`);
  }
  return {count: controls.length, hidden};
}"""


@dataclass
class Portal:
    url: str
    dsn: str
    activation_code: str
    document_with_xml: int
    ids: dict[str, int] = field(default_factory=dict)


async def _load(dsn: str) -> dict[str, int]:
    """Anna, main contact of three numbers of two companies (62 documents: two pages);
    Marie, of one; Luc, shared user of numbers of both accounts; Jonas, a B2C client;
    one number not activated yet. Names as long as real Belgian ones."""
    connection = await asyncpg.connect(dsn)
    ids: dict[str, int] = {}
    try:

        async def user(email: str, first: str, last: str, language: str) -> int:
            return int(
                await connection.fetchval(
                    "INSERT INTO portal_user (email, first_name, last_name, language, "
                    "password_hash) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    email,
                    first,
                    last,
                    language,
                    factories.PASSWORD_HASH,
                )
            )

        async def account(kind: str, login: str, main_contact: int) -> int:
            account_id = await connection.fetchval(
                "INSERT INTO account (kind, login) VALUES ($1, $2) RETURNING id", kind, login
            )
            await connection.execute(
                "INSERT INTO account_membership (account_id, user_id, role) "
                "VALUES ($1, $2, 'main_contact')",
                account_id,
                main_contact,
            )
            return int(account_id)

        async def number(
            issuer: int, code: str, company: str, email: str, account_id: int | None
        ) -> int:
            return int(
                await connection.fetchval(
                    "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
                    "first_name, last_name, contract_start, delivery_channel, account_id) "
                    "VALUES ($1, $2, $3, $4, 'Anna', 'Peeters', '2015-01-01', $5, $6) "
                    "RETURNING id",
                    issuer,
                    code,
                    company,
                    email,
                    "electronic" if account_id else "paper",
                    account_id,
                )
            )

        dl2 = await connection.fetchval(
            "INSERT INTO issuer (prefix, name) VALUES ('DL2', 'Belfius Lease Services NV') "
            "RETURNING id"
        )
        dl5 = await connection.fetchval(
            "INSERT INTO issuer (prefix, name) VALUES ('DL5', 'Belfius Lease NV') RETURNING id"
        )
        anna = await user(ANNA, "Anna", "Peeters-Vandenberghe", "nl")
        marie = await user("marie.dubois@dubois.example", "Marie", "Dubois", "fr")
        luc = await user(LUC, "Luc", "Janssens", "de")
        jonas = await user(JONAS, "Jonas", "Maes", "en")
        peeters = await account("b2b", "BE0417000129", anna)
        dubois = await account("b2b", "BE0815000334", marie)
        maes = await account("b2c", JONAS, jonas)
        brewery = "Brouwerij Peeters & Zonen Bierhandel en Logistiek BV"
        numbers = {
            "DL20000101": await number(dl2, "DL20000101", brewery, ANNA, peeters),
            "DL50000101": await number(dl5, "DL50000101", brewery, ANNA, peeters),
            "DL20000102": await number(
                dl2, "DL20000102", "Peeters Vastgoedbeheer Oost-Vlaanderen BV", ANNA, peeters
            ),
            "DL20000201": await number(
                dl2, "DL20000201", "Établissements Dubois et Fils SA", "m@dubois.example", dubois
            ),
            "DL20000301": await number(dl2, "DL20000301", "Jonas Maes", JONAS, maes),
            NOT_ACTIVE: await number(dl2, NOT_ACTIVE, "Nieuwe Klant BV", "new@example.be", None),
        }
        for code, count in (("DL20000101", 52), ("DL50000101", 6), ("DL20000102", 4)):
            for n in range(count):
                await connection.execute(
                    "INSERT INTO document (client_number_id, type, number, issue_date, "
                    "due_date, amount_excl_vat, vat_amount, amount_incl_vat, pdf_blob_hash) "
                    "VALUES ($1, $2, $3, $4, $5, 98765.43, 20740.74, 119506.17, $6)",
                    numbers[code],
                    "credit_note" if n % 7 == 3 else "invoice",
                    f"F{2026 - n // 12}{n % 12 + 1:02d}-{code[-6:]}-{n:04d}",
                    date.today() - timedelta(days=30 * n + 3),
                    date.today() - timedelta(days=30 * n - 27),
                    "0" * 64,
                )
        for code in ("DL20000201", "DL20000301"):
            for n in range(3):
                await connection.execute(
                    "INSERT INTO document (client_number_id, type, number, issue_date, "
                    "amount_excl_vat, vat_amount, amount_incl_vat, pdf_blob_hash) "
                    "VALUES ($1, 'invoice', $2, $3, 100, 21, 121, $4)",
                    numbers[code],
                    f"F-{code}-{n}",
                    date.today() - timedelta(days=40 * n + 5),
                    "0" * 64,
                )
        for owner, codes in ((peeters, ("DL20000101", "DL20000102")), (dubois, ("DL20000201",))):
            shared = await connection.fetchval(
                "INSERT INTO shared_user (account_id, user_id) VALUES ($1, $2) RETURNING id",
                owner,
                luc,
            )
            ids.setdefault("shared_user", int(shared))
            for code in codes:
                await connection.execute(
                    "INSERT INTO client_number_grant (shared_user_id, client_number_id) "
                    "VALUES ($1, $2)",
                    shared,
                    numbers[code],
                )
        ids.update(numbers)
    finally:
        await connection.close()
    return ids


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(iportal(*args), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def portal(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with served_portal(server_dsn, tmp_path_factory, "layout") as served:
        dsn, env = served.dsn, served.env
        ids = asyncio.run(_load(dsn))
        ubl = tmp_path_factory.mktemp("layout-ubl") / "invoice.xml"
        ubl.write_bytes(UBL.read_bytes().replace(b"DL20012345", b"DL20000101"))
        _run(env, "ingest", str(ubl))
        issued = _run(env, "activation-codes", "issue", NOT_ACTIVE).strip().splitlines()[-1]
        code = issued.split("\t")[1]
        with_xml = asyncio.run(_fetch(dsn, "SELECT id FROM document WHERE xml_blob_hash <> ''"))
        yield Portal(served.server.url, dsn, code, int(with_xml), ids)


async def _fetch(dsn: str, sql: str) -> Any:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


class Layout:
    """Visits pages in one tab and collects what does not fit."""

    def __init__(self, page: Any, portal: Portal, artifacts: Path) -> None:
        self.page = page
        self.portal = portal
        self.artifacts = artifacts
        self.problems: list[str] = []
        self.visited = 0

    async def language(self, code: str) -> None:
        await self.page.context.add_cookies(
            [{"name": "iportal_lang", "value": code, "url": self.portal.url}]
        )

    async def visit(self, path: str, *, refused: bool = False) -> None:
        """Load a page and measure it; `refused`: a page that answers 4xx (an error
        page, an expired link), which must fit as well as any."""
        response = await self.page.goto(self.portal.url + path)
        assert response is not None, path
        assert (400 <= response.status < 500) if refused else response.ok, (path, response.status)
        await self.measure(path)

    async def measure(self, where: str) -> None:
        self.visited += 1
        language = await self.page.evaluate("document.documentElement.lang")
        widths = WIDTHS if self.visited % 2 else tuple(reversed(WIDTHS))
        for width in widths:
            await self.page.set_viewport_size({"width": width, "height": 900})
            found = await self.page.evaluate(MEASURE)
            if found["scroll"] > found["width"] or found["cut"]:
                self.problems.append(
                    f"{where} [{language}] at {width} px: {found['scroll']} px wide; "
                    f"sticking out: {found['out']}; cut: {found['cut']}"
                )
            if width == 1280 and where.startswith("/documents") and "/documents/" not in where:
                # The laptops of the issue: 1280 to 1366 px.
                for laptop in (1280, 1366):
                    await self.page.set_viewport_size({"width": laptop, "height": 900})
                    files = await self.page.evaluate(FILES_IN_VIEW)
                    assert files["count"] > 0, where
                    if files["hidden"]:
                        self.problems.append(
                            f"{where} [{language}] at {laptop} px, Files cut: {files['hidden']}"
                        )

    async def screenshot(self, name: str) -> None:
        for width in SCREENSHOT_WIDTHS:
            await self.page.set_viewport_size({"width": width, "height": 900})
            path = self.artifacts / f"layout-{name}-{width}.png"
            await self.page.screenshot(path=str(path))
            assert path.stat().st_size > 5_000

    async def log_in(self, login: str) -> None:
        await self.page.goto(f"{self.portal.url}/login")
        await self.page.fill("#username", login)
        await self.page.fill("#password", factories.PASSWORD)
        await self.page.click("form[action='/login'] button[type=submit]")
        await self.page.wait_for_url(f"{self.portal.url}/documents")


async def _logged_out(layout: Layout, portal: Portal) -> None:
    for language in LANGUAGES:
        await layout.language(language)
        for path in ("/", "/login", "/password-reset", "/activate"):
            await layout.visit(path)
        await layout.visit("/password-reset/confirm?token=not-a-token", refused=True)
        await layout.visit("/activate/confirm?token=not-a-token", refused=True)
        await layout.visit("/unsubscribe/not-a-token", refused=True)
        await layout.visit("/forwarding/confirm?token=not-a-token", refused=True)
        await layout.visit("/account/main-contact/confirm?token=not-a-token", refused=True)
        await layout.visit("/no/such/page", refused=True)
        # The three steps of the activation, as far as the e-mail (step 2).
        page = layout.page
        await page.goto(f"{portal.url}/activate")
        await page.fill("#code", portal.activation_code)
        await page.click("form[action='/activate'] button[type=submit]")
        await page.wait_for_selector("form[action='/activate/start']")
        await layout.measure("/activate (step 1: the number)")
        await page.fill("form[action='/activate/start'] input[type=email]", "new@example.be")
        await page.click("form[action='/activate/start'] button[type=submit]")
        await page.wait_for_load_state()
        await layout.measure("/activate/start (step 2: the e-mail sent)")
        if language == "en":
            await layout.screenshot("activate-sent")
    link = CONFIRM_LINK.findall(
        await _fetch(portal.dsn, "SELECT string_agg(body_text, ' ') FROM outbox_email")
    )
    assert link, "no confirmation e-mail"
    for language in LANGUAGES:
        await layout.language(language)
        await layout.visit(link[-1])  # step 3: the password
    await layout.language("en")
    await layout.visit("/")
    await layout.screenshot("home")
    await layout.visit("/login")
    await layout.screenshot("login")


async def _anna(layout: Layout, portal: Portal) -> None:
    await layout.log_in(ANNA)
    code = "DL20000101"
    paths = [
        "/documents",
        "/documents?sort=amount_incl_vat&type=invoice",
        f"/documents/{portal.document_with_xml}",
        "/client-numbers",
        f"/client-numbers/{code}/shared-users",
        f"/client-numbers/{code}/forwarding",
        f"/client-numbers/{code}/opt-out",
        "/shared-users",
        f"/shared-users/{portal.ids['shared_user']}",
        f"/shared-users/{portal.ids['shared_user']}/remove",
        "/account/main-contact",
        "/me",
        "/me/security",
        "/me/password",
        "/me/tokens",
        "/me/notices",
        "/me/forwarding",
        "/me/activity",
    ]
    for language in LANGUAGES:
        await layout.language(language)
        for path in paths:
            await layout.visit(path)
        await layout.visit("/documents/999999999", refused=True)
        if language == "nl":
            for name, path in (
                ("documents", "/documents"),
                ("document-view", f"/documents/{portal.document_with_xml}"),
                ("client-numbers", "/client-numbers"),
                ("shared-users", "/shared-users"),
                ("settings", "/me"),
            ):
                await layout.page.goto(portal.url + path)
                await layout.screenshot(name)
    # The second page of the list, and the menu of a phone opened.
    await layout.language("en")
    await layout.page.goto(f"{portal.url}/documents")
    await _phone_and_laptop_list(layout.page)
    await layout.page.click("a[rel=next]")
    await layout.measure("/documents (page 2)")
    await layout.page.set_viewport_size({"width": 390, "height": 900})
    assert not await layout.page.locator("header nav a[href='/me']").is_visible()
    await layout.page.focus("header details.menu > summary")  # by keyboard
    await layout.page.keyboard.press("Enter")
    assert await layout.page.locator("header nav a[href='/me']").is_visible()
    await layout.page.keyboard.press("Tab")
    assert await layout.page.evaluate("document.activeElement.getAttribute('href')") == "/documents"
    await layout.measure("/documents (menu open)")
    await layout.page.set_viewport_size({"width": 390, "height": 900})
    await layout.page.screenshot(path=str(layout.artifacts / "layout-menu-open-390.png"))
    # Closed, the menu's links are out of sight (and out of the keyboard's way).
    await layout.page.click("header details.menu > summary")
    assert not await layout.page.locator("header nav a[href='/me']").is_visible()


async def _phone_and_laptop_list(page: Any) -> None:
    """On a phone the filters open from a button above the first card, and each card
    names its values; on a laptop the filters are open and the header row names them."""
    first_row = page.locator("table.documents tbody tr").first
    toggle = page.locator(".filters-toggle > summary")
    await page.set_viewport_size({"width": 390, "height": 900})
    assert not await page.locator("#f-type").is_visible()
    assert (await toggle.bounding_box())["y"] < (await first_row.bounding_box())["y"]
    labels = await first_row.locator(".label").all_inner_texts()
    assert labels == [
        "Client number",
        "Company",
        "Number",
        "Issue date",
        "Due date",
        "Amount incl. VAT",
    ]
    await toggle.click()
    assert await page.locator("#f-type").is_visible()
    await toggle.click()
    await page.set_viewport_size({"width": 1280, "height": 900})
    assert await page.locator("#f-type").is_visible()
    assert not await toggle.is_visible()
    assert not await first_row.locator(".label").first.is_visible()
    assert await page.locator("table.documents thead th", has_text="Issue date").is_visible()


async def _luc(layout: Layout, portal: Portal) -> None:
    await layout.log_in(LUC)
    for language in LANGUAGES:
        await layout.language(language)
        for path in ("/documents", "/client-numbers", "/me", "/me/security", "/me/tokens"):
            await layout.visit(path)
    await layout.language("de")
    await layout.page.goto(f"{portal.url}/documents")
    await layout.screenshot("documents-shared-user")


async def _jonas(layout: Layout, portal: Portal) -> None:
    await layout.log_in(JONAS)
    for language in LANGUAGES:
        await layout.language(language)
        for path in ("/documents", "/client-numbers", "/me", "/me/activity"):
            await layout.visit(path)
    # A second factor: its key and QR code, the recovery codes, then the code at login.
    page = layout.page
    await layout.language("de")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(f"{portal.url}/me/security")
    await page.click("#totp-start")
    await page.wait_for_selector("#totp-qr svg")
    await layout.measure("/me/security (the new key)")
    secret = "".join((await page.text_content("#totp-secret") or "").split())
    await page.fill("#totp-code", pyotp.TOTP(secret).now())
    await page.click("form[action='/me/security/totp/confirm'] button")
    await page.wait_for_selector("#recovery-codes")
    await layout.measure("/me/security (the recovery codes)")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.click("form[action='/logout'] button")
    await page.wait_for_load_state()
    await page.goto(f"{portal.url}/login")
    await page.fill("#username", JONAS)
    await page.fill("#password", factories.PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url("**/login/code**")
    for language in LANGUAGES:
        await layout.language(language)
        await layout.visit(page.url.removeprefix(portal.url))


async def test_no_page_scrolls_sideways_and_nothing_is_cut(portal: Portal, artifacts: Path) -> None:
    started = time.monotonic()
    async with chromium_page(viewport={"width": 1280, "height": 900}) as first:
        browser = first.context.browser
        layouts = [Layout(first, portal, artifacts)]
        for _ in range(3):
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            layouts.append(Layout(await context.new_page(), portal, artifacts))
        for layout in layouts:
            layout.page.set_default_timeout(10_000)
        await asyncio.gather(
            _logged_out(layouts[0], portal),
            _anna(layouts[1], portal),
            _luc(layouts[2], portal),
            _jonas(layouts[3], portal),
        )
    problems = [problem for layout in layouts for problem in layout.problems]
    visited = sum(layout.visited for layout in layouts)
    print(f"\n{visited} pages × {len(WIDTHS)} widths in {time.monotonic() - started:.1f} s")
    assert visited > 150
    assert problems == [], "\n".join(problems)


# On a phone each card names its values: every data cell of a table that says something
# carries a visible span.label equal to its column's header. A column whose header is
# only for screen readers (the actions, a tick box) holds controls with their own names.
# The documents list, whose type needs no name, is checked in _phone_and_laptop_list.
CARD_LABELS = """() => {
  const text = (e) => e.textContent.replace(/\\s+/g, " ").trim();
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const said = (e, drop) => {
    const copy = e.cloneNode(true);
    copy.querySelectorAll(drop).forEach((part) => part.remove());
    return text(copy);
  };
  const found = {tables: 0, cells: 0, columns: [], unnamed: [], problems: []};
  for (const table of document.querySelectorAll("main table.list:not(.documents)")) {
    const heads = [...table.querySelectorAll("thead th")].map((th) => said(th, ".visually-hidden"));
    if (!heads.length || !shown(table)) continue;
    found.tables += 1;
    const named = new Set();
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.cells].forEach((cell, i) => {
        const head = heads[i] || "";
        const value = said(cell, ".label");
        if (!head || !value || !shown(cell)) return;
        found.cells += 1;
        const label = cell.querySelector(".label");
        const name = label && shown(label) ? text(label) : "";
        if (name === head) named.add(head);
        else found.problems.push(`"${value}" named "${name}", not "${head}"`);
      });
    }
    found.columns.push(...heads.filter(Boolean));
    found.unnamed.push(...heads.filter((head) => head && !named.has(head)));
  }
  return found;
}"""
# Where the header row is seen, no value carries a name: not for the eye, not for a
# screen reader (display: none).
LABELS_HIDDEN = """() => [...document.querySelectorAll("main table.list .label")]
  .filter((e) => getComputedStyle(e).display !== "none").map((e) => e.textContent.trim())"""


async def test_each_card_on_a_phone_names_its_values(portal: Portal, artifacts: Path) -> None:
    """Anna's pages with a table (each with a token, a forwarding address and activity
    in it), in English and German, at 390 and 320 px: every value names its column;
    at 1280 px the header row does and the names are gone. The English cards at 390 px
    in tests/artifacts/cards-*.png."""
    async with chromium_page(viewport={"width": 1280, "height": 900}) as page:
        page.set_default_timeout(10_000)
        layout = Layout(page, portal, artifacts)
        await layout.log_in(ANNA)
        # Something in every table: a token, a forwarding address, a document opened.
        await page.goto(f"{portal.url}/me/tokens")
        await page.fill("#token-name", "Boekhoudpakket")
        await page.click("form[action='/me/tokens'] button[type=submit]")
        await page.wait_for_selector("#new-token")
        await page.goto(f"{portal.url}/client-numbers/DL20000101/forwarding")
        await page.fill("#email", "inbox@boekhoudpakket.example")
        await page.click("form[action$='/forwarding'] button[type=submit]")
        await page.wait_for_selector("#forwarding-addresses")
        opened = await page.request.get(
            f"{portal.url}/api/v1/documents/{portal.document_with_xml}/xml"
        )
        assert opened.ok
        paths = (
            "/client-numbers",
            "/shared-users",
            "/client-numbers/DL20000101/forwarding",
            "/me/forwarding",
            "/me/tokens",
            "/me/activity",
            f"/documents/{portal.document_with_xml}",
        )
        problems: list[str] = []
        for language in ("en", "de"):
            await layout.language(language)
            for path in paths:
                where = f"{path} [{language}]"
                await page.set_viewport_size({"width": 1280, "height": 900})
                response = await page.goto(portal.url + path)
                assert response is not None and response.ok, where
                shown = await page.evaluate(LABELS_HIDDEN)
                if shown:
                    problems.append(f"{where} at 1280 px, names beside the header: {shown}")
                for width in (390, 320):
                    await page.set_viewport_size({"width": width, "height": 900})
                    found = await page.evaluate(CARD_LABELS)
                    assert found["tables"] and found["cells"], (where, found)
                    problems += [f"{where} at {width} px: {p}" for p in found["problems"]]
                    if found["unnamed"]:
                        problems.append(f"{where}: no value named under {found['unnamed']}")
                    if width == 390 and language == "en":
                        name = path.strip("/").replace("/", "-").replace("DL20000101-", "")
                        name = "document-view" if path.startswith("/documents/") else name
                        await page.screenshot(
                            path=str(artifacts / f"cards-{name}-390.png"), full_page=True
                        )
    assert problems == [], "\n".join(problems)
