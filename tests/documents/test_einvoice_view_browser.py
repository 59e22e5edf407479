"""The readable page of an e-invoice in a real browser (Playwright driving Debian's
chromium) against a real `iportal serve` on its own database: a Factur-X invoice and a
UBL invoice with many lines, published through the issuer API, read by their client
at 1366 and 390 px. Every field a person needs is visible, the page runs under the
Content-Security-Policy without a violation or console error, and on a phone the page
is no wider than the screen (the lines table scrolls inside itself). Screenshots in
tests/artifacts/."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from iportal.documents.einvoice_view import read_invoice, shown
from iportal.documents.storage import FolderBlobStore
from tests import factories
from tests.browser import chromium_page, create_issuer, served_portal
from tests.documents.einvoice_helpers import fixture
from tests.documents.einvoice_view_helpers import MadeLine, hostile, ubl
from tests.documents.test_einvoice_view_attachments import cii_with_attachments, factur_x

pytestmark = pytest.mark.browser
EMAIL = "anna@peeters.example"
CLIENT_CODE = "DL20012345"
WIDTHS = (1366, 390)
# Every violation, as the page sees it; kept on the window so the test can read it.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`);
});
"""

# The elements that reach past the right edge of the screen, outside a scrolling box.
WIDER_THAN_THE_SCREEN = """
[...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5
                 && !e.closest(".table-scroll"))
  .map((e) => `${e.tagName.toLowerCase()}.${e.className} `
               + `${Math.round(e.getBoundingClientRect().right)} ${e.textContent.slice(0, 40)}`)
  .slice(0, 12)
"""


def many_lines() -> bytes:
    """A UBL invoice of 14 lines at three VAT rates, with a document allowance and charge,
    a line allowance, a long article name and a prepayment."""
    rates = (Decimal(21), Decimal(6), Decimal(12))
    lines = [
        MadeLine(
            quantity=Decimal(n % 4 + 1),
            price=Decimal("37.50") + n,
            rate=rates[n % 3],
            allowance=Decimal("2.50") if n == 3 else Decimal(0),
            name=(
                "Full-service lease, Volkswagen ID.4 Pro Performance 77 kWh, plate 1-ABC-234, "
                "contract LC-2026-000123, month of November"
                if n == 1
                else f"Fuel card charges, week {n}"
            ),
        )
        for n in range(1, 15)
    ]
    return ubl(lines, Decimal("15.00"), Decimal("9.95"), Decimal("100.00")).xml


def cii_line(number: int, name: str, quantity: int, price: str, total: str) -> str:
    return (
        "<ram:IncludedSupplyChainTradeLineItem><ram:AssociatedDocumentLineDocument>"
        f"<ram:LineID>{number}</ram:LineID></ram:AssociatedDocumentLineDocument>"
        f"<ram:SpecifiedTradeProduct><ram:Name>{name}</ram:Name></ram:SpecifiedTradeProduct>"
        "<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice>"
        f"<ram:ChargeAmount>{price}</ram:ChargeAmount></ram:NetPriceProductTradePrice>"
        "</ram:SpecifiedLineTradeAgreement><ram:SpecifiedLineTradeDelivery>"
        f'<ram:BilledQuantity unitCode="C62">{quantity}</ram:BilledQuantity>'
        "</ram:SpecifiedLineTradeDelivery><ram:SpecifiedLineTradeSettlement>"
        "<ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode>"
        "<ram:CategoryCode>S</ram:CategoryCode>"
        "<ram:RateApplicablePercent>20.00</ram:RateApplicablePercent></ram:ApplicableTradeTax>"
        "<ram:SpecifiedTradeSettlementLineMonetarySummation>"
        f"<ram:LineTotalAmount>{total}</ram:LineTotalAmount>"
        "</ram:SpecifiedTradeSettlementLineMonetarySummation>"
        "</ram:SpecifiedLineTradeSettlement></ram:IncludedSupplyChainTradeLineItem>"
    )


def factur_x_with_lines() -> bytes:
    """Our EN 16931 Factur-X XML (with its attachments) whose one line of 100.00 is
    split into three that add up to the same: the stated totals stay true."""
    text = cii_with_attachments().decode()
    start = text.index("<ram:IncludedSupplyChainTradeLineItem>")
    end = text.index("</ram:IncludedSupplyChainTradeLineItem>") + len(
        "</ram:IncludedSupplyChainTradeLineItem>"
    )
    lines = (
        cii_line(1, "Lease of a vehicle, one month", 1, "60.00", "60.00")
        + cii_line(2, "Insurance, one month", 1, "25.00", "25.00")
        + cii_line(3, "Car wash", 3, "5.00", "15.00")
    )
    return (text[:start] + lines + text[end:]).encode()


async def _add_anna(dsn: str) -> None:
    """Anna, main contact of DL20012345 (whose issuer the CLI created)."""
    connection = await asyncpg.connect(dsn)
    try:
        user_id = await connection.fetchval(
            "INSERT INTO portal_user (email, first_name, last_name, language, password_hash) "
            "VALUES ($1, 'Anna', 'Peeters', 'en', $2) RETURNING id",
            EMAIL,
            factories.PASSWORD_HASH,
        )
        account_id = await connection.fetchval(
            "INSERT INTO account (kind, login) VALUES ('b2b', 'BE0417000129') RETURNING id"
        )
        await connection.execute(
            "INSERT INTO account_membership (account_id, user_id) VALUES ($1, $2)",
            account_id,
            user_id,
        )
        await connection.execute(
            "INSERT INTO client_number (issuer_id, client_code, company_name, email, "
            "contract_start, account_id, delivery_channel) "
            "SELECT id, $1, 'Client BV', $2, '2015-01-01', $3, 'electronic' FROM issuer",
            CLIENT_CODE,
            EMAIL,
            account_id,
        )
    finally:
        await connection.close()


async def _add_xml_only(dsn: str, digest: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        document_id: int = await connection.fetchval(
            "INSERT INTO document (client_number_id, type, number, issue_date, amount_excl_vat, "
            "vat_amount, amount_incl_vat, structured_kind, xml_blob_hash) "
            "SELECT id, 'invoice', 'H-1', current_date, 100, 21, 121, 'ubl', $1 "
            "FROM client_number RETURNING id",
            digest,
        )
        return document_id
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def portal(server_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A served portal with the two invoices published through the issuer API."""
    with served_portal(server_dsn, tmp_path_factory, "einvoice_browser") as served:
        server, env, dsn = served.server, served.env, served.dsn
        key = create_issuer(env, "DL2", "Demo Lease NV")
        asyncio.run(_add_anna(dsn))
        documents = {}
        for kind, file_name, content in (
            ("ubl", "invoice.xml", many_lines()),
            ("factur_x", "invoice.pdf", factur_x(factur_x_with_lines())),
        ):
            answer = httpx.post(
                f"{server.url}/api/v1/issuer/documents",
                headers={"Authorization": f"Bearer {key}"},
                files={"file": (file_name, content)},
                data={"metadata": json.dumps({"client_code": CLIENT_CODE})},
                timeout=30,
            )
            assert answer.status_code == 201, answer.text
            xml = many_lines() if kind == "ubl" else factur_x_with_lines()
            documents[kind] = {"id": answer.json()["id"], "view": shown(read_invoice(xml), "en")}
        # A stranger's UBL, stored as it came: hostile text in every field.
        store = FolderBlobStore(Path(env["IPORTAL_DATA_DIR"]) / "blobs")
        digest = asyncio.run(store.put(hostile(fixture("ubl_invoice_with_pdf.xml"))))
        documents["hostile"] = {"id": asyncio.run(_add_xml_only(dsn, digest))}
        yield {"url": server.url, "documents": documents}


async def _log_in(page: Any, url: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("#username", EMAIL)
    await page.fill("#password", factories.PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{url}/documents")


async def _visible(page: Any, text: str) -> None:
    """Some element of the invoice shows `text` (the first of several) on screen."""
    # The page's text is made of the same strings, blanks collapsed.
    wanted = " ".join(text.split())
    assert wanted, "nothing to look for"
    locator = page.locator("article.einvoice").get_by_text(wanted, exact=False).first
    assert await locator.is_visible(), wanted


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", ["factur_x", "ubl"])
async def test_the_readable_page_in_a_real_browser(
    portal: dict[str, Any], artifacts: Path, kind: str, width: int
) -> None:
    document = portal["documents"][kind]
    view = document["view"]
    errors: list[str] = []
    viewport = {"width": width, "height": 900 if width > 1000 else 844}
    async with chromium_page(viewport=viewport, locale="en-GB") as page:
        await page.add_init_script(WATCH_VIOLATIONS)
        # A failed load is reported below with its address (browsers ask for a
        # /favicon.ico of their own accord; the portal has none).
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: (
                errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        await _log_in(page, portal["url"])

        response = await page.goto(f"{portal['url']}/documents/{document['id']}")
        assert response is not None and response.status == 200
        policy = await response.header_value("content-security-policy")
        assert policy and "unsafe-inline" not in policy

        await _visible(page, view.title)
        for party in view.parties:
            await _visible(page, party.name)
        for _label, value in view.facts[:3]:
            await _visible(page, value)
        assert len(view.lines) >= 2
        rows = page.locator("table.lines tbody tr")
        assert await rows.count() == len(view.lines)
        for line in view.lines:
            await _visible(page, line.cells[1])
            await _visible(page, line.cells[6])
        for vat_row in view.vat_rows:
            await _visible(page, vat_row[3])
        for _label, value in view.totals:
            await _visible(page, value)
        payable = page.locator("table.totals tr.payable")
        assert await payable.is_visible()
        assert " ".join(view.payable.split()) in " ".join((await payable.inner_text()).split())
        for _label, value in view.payment:
            await _visible(page, value)
        for attachment in view.attachments:
            await _visible(page, attachment.label)

        # The last column of the lines table is reachable: on a phone the table scrolls
        # inside its own box, and the page itself is no wider than the screen.
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        wide = await page.evaluate(WIDER_THAN_THE_SCREEN)
        assert widths[0] <= widths[1], (widths, wide)
        await (
            page.locator("table.lines tbody tr")
            .last.locator("td")
            .last.scroll_into_view_if_needed()
        )
        assert await page.locator("table.lines tbody tr").last.locator("td").last.is_visible()

        await page.screenshot(
            path=str(artifacts / f"einvoice-view-{kind}-{width}.png"), full_page=True
        )
        assert await page.evaluate("window.__violations") == []
        assert errors == []
    assert (artifacts / f"einvoice-view-{kind}-{width}.png").stat().st_size > 10_000


@pytest.mark.parametrize("width", WIDTHS)
async def test_a_hostile_invoice_runs_nothing_in_a_real_browser(
    portal: dict[str, Any], artifacts: Path, width: int
) -> None:
    """Markup, scripts, `javascript:` addresses and bidi overrides in every field, and a
    note of 100,000 characters: nothing runs, nothing is blocked (nothing tried), the
    page keeps to the screen."""
    document_id = portal["documents"]["hostile"]["id"]
    dialogs: list[str] = []
    errors: list[str] = []
    viewport = {"width": width, "height": 900 if width > 1000 else 844}
    async with chromium_page(viewport=viewport, locale="en-GB") as page:
        await page.add_init_script(WATCH_VIOLATIONS)
        page.on("dialog", lambda d: dialogs.append(d.message))
        page.on("pageerror", lambda e: errors.append(str(e)))
        await _log_in(page, portal["url"])

        response = await page.goto(f"{portal['url']}/documents/{document_id}")
        assert response is not None and response.status == 200
        await page.wait_for_load_state("load")

        article = page.locator("article.einvoice")
        assert await article.locator("script, img, svg, iframe, object, embed").count() == 0
        hrefs = await article.locator("a").evaluate_all("(links) => links.map((a) => a.href)")
        assert hrefs and all(h.startswith(portal["url"] + "/") for h in hrefs), hrefs
        text = await article.inner_text()
        assert '<script>alert("' in text and "javascript:alert(" in text
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], (widths, await page.evaluate(WIDER_THAN_THE_SCREEN))
        await page.screenshot(
            path=str(artifacts / f"einvoice-view-hostile-{width}.png"), full_page=False
        )
        assert dialogs == [] and errors == []
        assert await page.evaluate("window.__violations") == []
