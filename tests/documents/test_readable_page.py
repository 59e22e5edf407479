"""The readable page of a structured document and the PDF made from its XML: what a
reader sees of their own documents, 404 for anyone else's, recorded like any opening."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from iportal import clock, i18n
from iportal.accounts.tables import AuditEvent
from iportal.documents.einvoice_view import read_invoice, shown
from iportal.documents.storage import FolderBlobStore
from iportal.templating import money
from iportal.web.context import LANGUAGE_COOKIE
from tests import factories
from tests.documents.einvoice_helpers import fixture
from tests.documents.einvoice_view_helpers import line_count, sample_rows, sample_xml
from tests.documents.test_einvoice_view import flat
from tests.helpers import log_in_afresh as login

RENDERING = "Rendering of the e-invoice"


@pytest.fixture
async def world(transaction: Any, settings: Any) -> dict[str, Any]:
    """Anna has a UBL invoice sent without PDF, a Factur-X invoice and a plain PDF;
    Bert has a UBL invoice of his own."""
    store = FolderBlobStore(settings.blob_dir)
    issuer_id = await factories.issuer("DL2")
    mine = await factories.client_number(issuer_id, "DL20000001")
    theirs = await factories.client_number(issuer_id, "DL20000009")
    anna = await factories.user("anna@example.test")
    bert = await factories.user("bert@example.test")
    await factories.account(anna, mine)
    await factories.account(bert, theirs)
    day = clock.today() - timedelta(days=10)
    ubl_hash = await store.put(fixture("ubl_invoice.xml"))
    docs = {
        "ubl": await factories.document(
            mine, issue_date=day, pdf_blob_hash=None, structured_kind="ubl", xml_blob_hash=ubl_hash
        ),
        "plain": await factories.document(
            mine, issue_date=day, pdf_blob_hash=await store.put(factories.invoice_pdf("P-1"))
        ),
        "theirs": await factories.document(
            theirs,
            issue_date=day,
            pdf_blob_hash=None,
            structured_kind="ubl",
            xml_blob_hash=ubl_hash,
        ),
    }
    return {"docs": docs, "store": store, "mine": mine, "day": day}


def page_text(response: httpx.Response) -> str:
    return flat(html.unescape(re.sub(r"<[^>]+>", " ", response.text)))


async def test_the_readable_page_shows_the_invoice_in_the_readers_language(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    doc = world["docs"]["ubl"]
    invoice = read_invoice(fixture("ubl_invoice.xml"))

    for language in ("nl", "fr", "en", "de"):
        client.cookies.set(LANGUAGE_COOKIE, language)
        response = await client.get(f"/documents/{doc}")
        assert response.status_code == 200, response.text
        text = page_text(response)
        view = shown(invoice, language)
        for value in (invoice.seller.name, invoice.buyer.name, view.payable, *view.totals[-1]):
            assert flat(str(value)) in text, (language, value)
        for line in view.lines:
            assert flat(line.cells[1]) in text and flat(line.cells[6]) in text
        assert i18n.translate("VAT breakdown", language) in text
    events = await AuditEvent.select().where(AuditEvent.document_id == doc)
    assert [json.loads(e["detail"])["file"] for e in events] == ["view"] * 4


async def test_the_list_links_the_view_for_documents_with_xml(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    client.cookies.set(LANGUAGE_COOKIE, "en")
    page = (await client.get("/documents")).text

    assert f'<a href="/documents/{world["docs"]["ubl"]}">View</a>' in page
    assert f'href="/documents/{world["docs"]["plain"]}"' not in page


async def test_what_is_not_yours_is_not_found_like_what_does_not_exist(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    theirs = await client.get(f"/documents/{world['docs']['theirs']}")
    missing = await client.get("/documents/999999999")
    no_xml = await client.get(f"/documents/{world['docs']['plain']}")

    assert theirs.status_code == missing.status_code == 404
    # The page names its own path (the language switch comes back to it): nothing else.
    assert theirs.text.replace(f"/documents/{world['docs']['theirs']}", "/documents/ID") == (
        missing.text.replace("/documents/999999999", "/documents/ID")
    )
    assert no_xml.status_code == 404
    theirs_pdf = await client.get(f"/api/v1/documents/{world['docs']['theirs']}/pdf")
    missing_pdf = await client.get("/api/v1/documents/999999999/pdf")
    assert theirs_pdf.status_code == missing_pdf.status_code == 404
    assert theirs_pdf.content == missing_pdf.content


async def test_an_xml_only_document_gets_a_pdf_made_from_its_xml(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    doc = world["docs"]["ubl"]

    client.cookies.set(LANGUAGE_COOKIE, "fr")
    response = await client.get(f"/api/v1/documents/{doc}/pdf")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers
    pages = PdfReader(io.BytesIO(response.content)).pages
    text = flat(" ".join(page.extract_text() for page in pages))
    view = shown(read_invoice(fixture("ubl_invoice.xml")), "fr")
    assert flat(view.payable) in text and flat(view.title) in text
    mark = i18n.translate(
        "Rendering of the e-invoice: the structured data (XML) is the original document.", "fr"
    )
    assert all(flat(mark)[:25] in flat(page.extract_text()) for page in pages)
    listed = (await client.get(f"/api/v1/documents/{doc}")).json()
    assert listed["read"] is True


async def test_the_issuers_pdf_is_served_when_there_is_one(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    await login(client, "anna@example.test")
    response = await client.get(f"/api/v1/documents/{world['docs']['plain']}/pdf")

    assert response.status_code == 200
    assert response.content == factories.invoice_pdf("P-1") or "etag" in response.headers
    assert RENDERING not in PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


@pytest.mark.parametrize("row", sample_rows())
async def test_a_samples_page_shows_every_expected_field(
    client: httpx.AsyncClient, world: dict[str, Any], row: dict[str, str]
) -> None:
    xml = sample_xml(row["file"])
    kind = "ubl" if row["format"] == "ubl_xml" else "factur_x"
    doc = await factories.document(
        world["mine"],
        issue_date=world["day"],
        pdf_blob_hash=None,
        structured_kind=kind,
        xml_blob_hash=await world["store"].put(xml),
    )
    await login(client, "anna@example.test")

    client.cookies.set(LANGUAGE_COOKIE, "de")
    response = await client.get(f"/documents/{doc}")

    assert response.status_code == 200
    text = page_text(response)
    invoice = read_invoice(xml)
    view = shown(invoice, "de")
    assert row["number"] in text
    # The gross total as expected.csv states it, in the reader's format; every line.
    with i18n.using_language("de"):
        assert flat(money(Decimal(row["amount_incl_vat"]), row["currency"])) in text
    lines_table = response.text.split('<table class="list lines">')[1].split("</table>")[0]
    assert lines_table.count("<tr>") == 1 + line_count(xml) > 1
    for value in (invoice.seller.name, invoice.buyer.name, view.payable):
        assert flat(str(value)) in text
    for line in view.lines:
        assert flat(line.cells[1]) in text and flat(line.cells[6]) in text
    for vat_row in view.vat_rows:
        assert all(flat(cell) in text for cell in vat_row)
    for label, value in view.totals:
        assert f"{flat(label)} {flat(value)}" in text


async def test_a_pdf_made_from_xml_is_made_once_per_language_then_kept(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    from iportal.documents.reading.readable import RENDERED

    await login(client, "anna@example.test")
    doc = world["docs"]["ubl"]
    hits = RENDERED.hits
    client.cookies.set(LANGUAGE_COOKIE, "de")
    first = await client.get(f"/api/v1/documents/{doc}/pdf")
    again = await client.get(f"/api/v1/documents/{doc}/pdf")
    client.cookies.set(LANGUAGE_COOKIE, "nl")
    dutch = await client.get(f"/api/v1/documents/{doc}/pdf")

    assert first.status_code == again.status_code == dutch.status_code == 200
    assert again.content == first.content  # the same bytes, from the cache
    assert RENDERED.hits >= hits + 1
    assert dutch.content != first.content  # another language is another rendering
    german = i18n.translate(
        "Rendering of the e-invoice: the structured data (XML) is the original document.", "de"
    )
    dutch_mark = i18n.translate(
        "Rendering of the e-invoice: the structured data (XML) is the original document.", "nl"
    )
    assert flat(german)[:25] in flat(PdfReader(io.BytesIO(again.content)).pages[0].extract_text())
    assert flat(dutch_mark)[:25] in flat(
        PdfReader(io.BytesIO(dutch.content)).pages[0].extract_text()
    )


def test_the_cache_of_made_pdfs_keeps_to_its_size_dropping_the_least_recently_used() -> None:
    from iportal.documents.reading.readable import RenderedPdfs

    cache = RenderedPdfs(limit=250)
    cache.keep("a", "nl", b"a" * 100)
    cache.keep("b", "nl", b"b" * 100)
    assert cache.get("a", "nl") == b"a" * 100  # a is now the most recently used
    cache.keep("c", "nl", b"c" * 100)
    assert cache.get("b", "nl") is None
    assert cache.get("a", "nl") is not None and cache.get("c", "nl") is not None
    cache.keep("huge", "nl", b"h" * 300)
    assert cache.get("huge", "nl") is None
