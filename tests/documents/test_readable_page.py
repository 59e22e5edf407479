"""The readable page of a structured document and the PDF made from its XML: what a
reader sees of their own documents, 404 for anyone else's, recorded like any opening."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from iportal import clock, i18n
from iportal.accounts.tables import AuditEvent
from iportal.documents.einvoice_view import read_invoice, shown
from iportal.documents.storage import FolderBlobStore
from iportal.web.context import LANGUAGE_COOKIE
from tests import factories
from tests.documents.einvoice_helpers import fixture
from tests.documents.einvoice_view_helpers import sample_rows, sample_xml
from tests.documents.test_einvoice_view import flat
from tests.helpers import form_login

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


async def login(client: httpx.AsyncClient, email: str) -> None:
    client.cookies.clear()
    assert (await form_login(client, email, factories.PASSWORD)).status_code == 303


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
    theirs_path = f"/documents/{world['docs']['theirs']}"
    assert theirs.text.replace(theirs_path, "/documents/ID") == missing.text.replace(
        "/documents/999999999", "/documents/ID"
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
    for value in (invoice.seller.name, invoice.buyer.name, view.payable):
        assert flat(str(value)) in text
    for line in view.lines:
        assert flat(line.cells[1]) in text and flat(line.cells[6]) in text
    for vat_row in view.vat_rows:
        assert all(flat(cell) in text for cell in vat_row)
    for label, value in view.totals:
        assert f"{flat(label)} {flat(value)}" in text
