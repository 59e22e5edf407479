"""Files embedded in a CII (Factur-X) e-invoice are listed and downloaded like a UBL's,
and the readable page lists every attachment with a link that downloads it in the
reader's own session, under a safe type and as an attachment."""

from __future__ import annotations

import base64
import html
import io
import re
from typing import Any

import facturx
import httpx
import pytest

from iportal.web.context import LANGUAGE_COOKIE
from tests.documents.einvoice_helpers import cii_xml, fixture
from tests.documents.fixtures.make_fixtures import rendered_pdf

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
HOSTILE_NAME = '<script>alert("x")</script>.html'
PAGE_HTML = b"<html><script>alert(document.cookie)</script></html>"


def cii_reference(content: bytes, mime: str, name: str, type_code: str = "916") -> str:
    encoded = base64.b64encode(content).decode()
    return (
        "<ram:AdditionalReferencedDocument>"
        f"<ram:IssuerAssignedID>{html.escape(name)}-ref</ram:IssuerAssignedID>"
        f"<ram:TypeCode>{type_code}</ram:TypeCode>"
        f"<ram:Name>{html.escape(name)} description</ram:Name>"
        f'<ram:AttachmentBinaryObject mimeCode="{mime}" filename="{html.escape(name)}">'
        f"{encoded}</ram:AttachmentBinaryObject>"
        "</ram:AdditionalReferencedDocument>"
    )


def cii_with_attachments() -> bytes:
    """Our EN 16931 Factur-X XML with, in order: a timesheet PDF, a PNG, a page of HTML
    under a hostile name, a reference to a web address (no file) and an object
    identifier (type 130: a reference, not a file)."""
    references = (
        cii_reference(rendered_pdf("Timesheet"), "application/pdf", "timesheet.pdf")
        + cii_reference(PNG, "image/png", "photo.png")
        + cii_reference(PAGE_HTML, "text/html", HOSTILE_NAME)
        + "<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>contract-terms"
        "</ram:IssuerAssignedID><ram:URIID>https://lease.example/terms</ram:URIID>"
        "<ram:TypeCode>916</ram:TypeCode></ram:AdditionalReferencedDocument>"
        "<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>CAR-1-AB-234"
        "</ram:IssuerAssignedID><ram:TypeCode>130</ram:TypeCode>"
        "</ram:AdditionalReferencedDocument>"
    )
    text = cii_xml("fx_en16931_invoice.pdf")
    end = "</ram:ApplicableHeaderTradeAgreement>"
    assert text.count(end) == 1
    text = text.replace(end, references + end)
    text = re.sub(r"<ram:BuyerReference>[^<]*<", "<ram:BuyerReference>DL20012345<", text)
    return text.encode()


def factur_x(xml: bytes) -> bytes:
    """A Factur-X PDF carrying `xml`, checked against the Factur-X XSD."""
    pdf = facturx.generate_from_binary(
        fixture("plain.pdf"), xml, flavor="factur-x", level="en16931", check_xsd=True
    )
    assert isinstance(pdf, bytes)
    return pdf


async def publish(client: httpx.AsyncClient, issuer: dict[str, Any], name: str, body: bytes) -> int:
    response = await client.post(
        "/api/v1/issuer/documents", headers=issuer["auth"], files={"file": (name, body)}
    )
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []
    document_id: int = response.json()["id"]
    return document_id


def download_links(page: str, document_id: int) -> dict[str, str]:
    """The page's attachment links: their text (unescaped) by their address."""
    pattern = rf'<a href="(/api/v1/documents/{document_id}/attachments/\d+)" download>([^<]*)</a>'
    return {path: html.unescape(label) for path, label in re.findall(pattern, page)}


async def test_files_embedded_in_a_factur_x_xml_are_listed_and_downloaded(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    document_id = await publish(client, issuer, "invoice.pdf", factur_x(cii_with_attachments()))

    listed = await client.get(f"/api/v1/documents/{document_id}/attachments")

    assert listed.status_code == 200
    assert listed.json()["items"] == [
        {
            "n": 1,
            "name": "timesheet.pdf",
            "type": "application/pdf",
            "size": len(rendered_pdf("Timesheet")),
        },
        {"n": 2, "name": "photo.png", "type": "image/png", "size": len(PNG)},
        {"n": 3, "name": HOSTILE_NAME, "type": "text/html", "size": len(PAGE_HTML)},
    ]
    timesheet = await client.get(f"/api/v1/documents/{document_id}/attachments/1")
    assert timesheet.content == rendered_pdf("Timesheet")
    assert timesheet.headers["content-type"] == "application/pdf"
    assert timesheet.headers["content-disposition"] == 'attachment; filename="timesheet.pdf"'
    photo = await client.get(f"/api/v1/documents/{document_id}/attachments/2")
    assert photo.content == PNG and photo.headers["content-type"] == "image/png"
    page = await client.get(f"/api/v1/documents/{document_id}/attachments/3")
    # Declared HTML is never served as HTML, and its name is made harmless for the header.
    assert page.content == PAGE_HTML
    assert page.headers["content-type"] == "application/octet-stream"
    disposition = page.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="') and "<" not in disposition
    assert page.headers["x-content-type-options"] == "nosniff"
    missing = await client.get(f"/api/v1/documents/{document_id}/attachments/4")
    assert missing.status_code == 404


@pytest.mark.parametrize("kind", ["ubl", "factur_x"])
async def test_the_page_lists_the_attachments_and_its_links_download_them(
    client: httpx.AsyncClient, issuer: dict[str, Any], kind: str
) -> None:
    if kind == "ubl":
        document_id = await publish(
            client, issuer, "invoice.xml", fixture("ubl_invoice_with_pdf.xml")
        )
    else:
        document_id = await publish(client, issuer, "invoice.pdf", factur_x(cii_with_attachments()))
    client.cookies.set(LANGUAGE_COOKIE, "fr")
    listed = (await client.get(f"/api/v1/documents/{document_id}/attachments")).json()["items"]

    page = await client.get(f"/documents/{document_id}")

    assert page.status_code == 200
    links = download_links(page.text, document_id)
    assert len(links) == len(listed) > 0
    for item in listed:
        path = f"/api/v1/documents/{document_id}/attachments/{item['n']}"
        assert item["name"] in links[path]
        downloaded = await client.get(path)  # the reader's session, as the link is followed
        assert downloaded.status_code == 200
        assert len(downloaded.content) == item["size"]
        assert downloaded.headers["content-disposition"].startswith("attachment;")
    # Sizes are in the reader's language; a reference to a file held elsewhere is
    # listed without a link.
    assert " ko)" in page.text
    if kind == "factur_x":
        section = page.text.split('<ul class="attachments">')[1].split("</ul>")[0]
        assert "<li>contract-terms — https://lease.example/terms</li>" in section
        assert "CAR-1-AB-234" not in section  # an object identifier, not a document
        assert "<script>alert" not in page.text
        assert HOSTILE_NAME in html.unescape(section)  # shown as text


async def test_the_rendered_pdf_lists_the_attachments_too(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    from pypdf import PdfReader

    document_id = await publish(client, issuer, "invoice.xml", ubl_with_attachments_only())

    pdf = await client.get(f"/api/v1/documents/{document_id}/pdf")

    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "usage.csv" in text and "text/csv" in text


def ubl_with_attachments_only() -> bytes:
    """The UBL fixture with its embedded files but without its rendering (so the PDF a
    reader gets is the one made from the XML)."""
    text = fixture("ubl_invoice_with_pdf.xml").decode()
    text, removed = re.subn(
        r"<cac:AdditionalDocumentReference>\s*<cbc:ID>UBL-2024-0002</cbc:ID>.*?"
        r"</cac:AdditionalDocumentReference>\s*",
        "",
        text,
        count=1,
        flags=re.S,
    )
    assert removed == 1
    text = re.sub(
        r'mimeCode="application/pdf" filename="terms.pdf"',
        'mimeCode="text/plain" filename="terms.txt"',
        text,
    )
    return text.encode()
