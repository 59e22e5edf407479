"""A stranger's e-invoice on the readable page and in the PDF made from it: markup,
scripts, `javascript:` addresses, template syntax and bidi overrides in every text and
attribute of a UBL and a CII document, and a note of 100,000 characters, are shown as
text and never run. (The page under the Content-Security-Policy in a real browser:
test_einvoice_view_browser.)"""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from iportal import clock
from iportal.documents.einvoice_view import read_invoice, shown
from iportal.documents.storage import FolderBlobStore
from iportal.web.context import LANGUAGE_COOKIE
from tests import factories
from tests.documents.einvoice_helpers import cii_xml, fixture
from tests.documents.einvoice_view_helpers import BIDI_CONTROLS, LONG_NOTE_LENGTH, hostile
from tests.documents.test_einvoice_view import flat
from tests.helpers import form_login

SOURCES = {
    "ubl": lambda: fixture("ubl_invoice_with_pdf.xml"),
    "factur_x": lambda: cii_xml("fx_en16931_invoice.pdf").encode(),
}
# The elements the page is made of; a value written as markup would add others.
PAGE_TAGS = {
    "a",
    "article",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "h1",
    "h2",
    "li",
    "link",
    "p",
    "section",
    "span",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}


class Elements(HTMLParser):
    """The tags of a piece of HTML with their attributes, as a browser would parse them."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


@pytest.fixture
async def reader(client: httpx.AsyncClient, transaction: Any, settings: Any) -> dict[str, Any]:
    """Anna, logged in, and her client number; the blob store her documents are in."""
    issuer_id = await factories.issuer("DL2")
    number = await factories.client_number(issuer_id, "DL20000001")
    anna = await factories.user("anna@example.test")
    await factories.account(anna, number)
    assert (await form_login(client, "anna@example.test", factories.PASSWORD)).status_code == 303
    client.cookies.set(LANGUAGE_COOKIE, "en")
    return {"number": number, "store": FolderBlobStore(settings.blob_dir)}


async def stored(reader: dict[str, Any], kind: str, xml: bytes) -> int:
    return await factories.document(
        reader["number"],
        issue_date=clock.today() - timedelta(days=3),
        pdf_blob_hash=None,
        structured_kind=kind,
        xml_blob_hash=await reader["store"].put(xml),
    )


@pytest.mark.parametrize("kind", SOURCES)
async def test_hostile_text_is_shown_as_text_on_the_page(
    client: httpx.AsyncClient, reader: dict[str, Any], kind: str
) -> None:
    xml = hostile(SOURCES[kind]())
    document_id = await stored(reader, kind, xml)

    page = await client.get(f"/documents/{document_id}")

    assert page.status_code == 200
    article = page.text.split('<article class="einvoice">')[1].split("</article>")[0]
    elements = Elements(article).found
    assert {tag for tag, _ in elements} <= PAGE_TAGS
    assert not [a for _, attrs in elements for a in attrs if a.startswith("on")]
    # Every link is one of ours; no value became an address.
    assert all((attrs.get("href") or "/").startswith("/") for _, attrs in elements)
    assert "{{ 7*7 }}" in html.unescape(article)  # template syntax stays as written
    # The values are there, as text: the seller's and buyer's names, every line, notes.
    view = shown(read_invoice(xml), "en")
    text = flat(html.unescape(re.sub(r"<[^>]+>", " ", article)))
    hostile_values = [view.title, *(p.name for p in view.parties)]
    hostile_values += [line.cells[1] for line in view.lines]
    for markup in ('<script>alert("', "<img src=x onerror=alert(", '"><svg onload=alert('):
        assert markup in text, markup
    for value in hostile_values:
        assert flat(value) in text, value
    # A bidi override cannot turn the text around it: none reaches the page.
    assert not set(BIDI_CONTROLS) & set(page.text)
    assert "\ufffd" in text
    # The 100,000-character note is cut to what a person reads; the page stays small.
    assert len(page.text) < LONG_NOTE_LENGTH
    assert "x" * 1000 in text


async def test_a_hostile_attachment_reference_is_listed_as_text() -> None:
    view = shown(read_invoice(hostile(SOURCES["ubl"]())), "en")

    listed = [a for a in view.attachments if a.number is None]

    assert [a.label for a in listed] == ["javascript:alert('ref') — javascript:alert('uri')"]
    # Embedded files are still numbered for their download links, names as declared.
    assert [a.number for a in view.attachments if a.number] == [1, 2, 3]


@pytest.mark.parametrize("kind", SOURCES)
async def test_hostile_text_is_written_as_text_in_the_pdf(
    client: httpx.AsyncClient, reader: dict[str, Any], kind: str
) -> None:
    xml = hostile(SOURCES[kind]())
    document_id = await stored(reader, kind, xml)

    response = await client.get(f"/api/v1/documents/{document_id}/pdf")

    assert response.status_code == 200
    pdf = PdfReader(io.BytesIO(response.content))
    text = flat(" ".join(p.extract_text() for p in pdf.pages))
    view = shown(read_invoice(xml), "en")
    for party in view.parties:
        assert flat(party.name) in text
    assert "alert(" in text  # markup written out as characters, not interpreted
    assert not any(annotation for page in pdf.pages for annotation in page.get("/Annots", []))
    assert "/JavaScript" not in response.content.decode("latin-1")
    assert "/OpenAction" not in response.content.decode("latin-1")
