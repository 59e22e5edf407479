"""Every valid Peppol invoice publishes: a negative one as stated, one whose embedded
"PDF" is not one from its XML with a warning. Its embedded files are listed and
downloaded one by one by whoever may see it, and its issuer gets the PDF and XML its
clients get; anybody else gets 404, exactly as for a document that does not exist."""

from __future__ import annotations

import base64
import io
import json
import re
from decimal import Decimal
from typing import Any

import httpx
from pypdf import PdfReader

from iportal import db, i18n
from iportal.accounts.services import create_issuer
from iportal.documents.einvoice_view import RENDERING_MARK
from iportal.documents.tables import Document
from iportal.web.context import LANGUAGE_COOKIE
from tests import factories
from tests.documents.einvoice_helpers import fixture, ubl_invoice
from tests.documents.fixtures.make_fixtures import rendered_pdf
from tests.helpers import form_login

MISSING = 9_000_000_000
USAGE_CSV = b"month;km\n2024-03;1204\n"


async def publish(client: httpx.AsyncClient, issuer: dict[str, Any], content: bytes) -> Any:
    response = await client.post(
        "/api/v1/issuer/documents",
        headers=issuer["auth"],
        files={"file": ("invoice.xml", content)},
    )
    assert response.status_code == 201, response.text
    return response.json()


def with_fake_pdf(name: str = "ubl_invoice_with_pdf.xml") -> bytes:
    """The fixture with its rendering (UBL-2024-0002.pdf) replaced by text."""
    text = fixture(name).decode()
    fake = base64.b64encode(b"hello world, not a PDF").decode()
    text, replaced = re.subn(
        r'(filename="UBL-2024-0002.pdf">)[^<]*<', rf"\g<1>{fake}<", text, count=1
    )
    assert replaced == 1
    return text.encode()


def negative(content: bytes) -> bytes:
    """The invoice with every amount negative: a Peppol BIS 3.0 correction (type 380)."""
    return re.sub(rb'(currencyID="EUR">)(\d)', rb"\g<1>-\g<2>", content)


async def test_a_negative_peppol_invoice_publishes_with_its_negative_amounts(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    published = await publish(client, issuer, negative(ubl_invoice()))

    assert published["type"] == "invoice" and published["warnings"] == []
    assert Decimal(published["amount_incl_vat"]) == Decimal("-121.00")
    row = await Document.select().where(Document.id == published["id"]).first()
    assert row is not None and row["type_code"] == "380"
    assert (row["amount_excl_vat"], row["vat_amount"], row["amount_incl_vat"]) == (
        Decimal("-100.00"),
        Decimal("-21.00"),
        Decimal("-121.00"),
    )
    summary = (await client.get("/api/v1/documents/summary")).json()
    assert summary["totals"] == [{"currency": "EUR", "documents": 1, "total_incl_vat": "-121.00"}]


async def test_a_negative_credit_note_is_published_as_stated_too(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    await factories.client_number(issuer["id"], "DL20000077")
    content = negative(fixture("ubl_credit_note_with_pdf.xml"))

    response = await client.post(
        "/api/v1/issuer/documents",
        headers=issuer["auth"],
        files={"file": ("cn.xml", content)},
        data={"metadata": json.dumps({"client_code": "DL20000077"})},
    )

    assert response.status_code == 201, response.text
    assert response.json()["type"] == "credit_note"
    assert Decimal(response.json()["amount_incl_vat"]) < 0


async def test_a_fake_embedded_pdf_is_left_out_and_named_in_a_warning(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    published = await publish(client, issuer, with_fake_pdf())

    assert published["number"] == "UBL-2024-0002"
    assert Decimal(published["amount_incl_vat"]) == Decimal("121.00")
    assert published["warnings"] == [
        "The attachment “UBL-2024-0002.pdf” was left out: it is declared a PDF but is not one."
    ]
    row = await Document.select().where(Document.id == published["id"]).first()
    assert row is not None and row["pdf_blob_hash"] is None and row["xml_blob_hash"]
    assert row["structured_kind"] == "ubl"
    # Its reader gets the PDF made from the XML, marked as such, not the false one.
    pdf = await client.get(f"/api/v1/documents/{published['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    text = " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert "UBL-2024-0002" in text
    assert " ".join(i18n.translate(RENDERING_MARK, "en").split())[:30] in text


async def test_an_unreadable_embedded_pdf_is_left_out_with_the_readers_reason(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    text = fixture("ubl_invoice_with_pdf.xml").decode()
    broken = base64.b64encode(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n%%EOF").decode()
    text = re.sub(r'(filename="UBL-2024-0002.pdf">)[^<]*<', rf"\g<1>{broken}<", text, count=1)

    published = await publish(client, issuer, text.encode())

    [warning] = published["warnings"]
    assert warning.startswith("The attachment “UBL-2024-0002.pdf” was left out: The PDF")


async def test_the_attachments_are_listed_and_downloaded_byte_for_byte(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    document_id = (await publish(client, issuer, fixture("ubl_invoice_with_pdf.xml")))["id"]

    listed = await client.get(f"/api/v1/documents/{document_id}/attachments")
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    assert listed.json()["items"] == [
        {"n": 1, "name": "usage.csv", "type": "text/csv", "size": len(USAGE_CSV)},
        {
            "n": 2,
            "name": "UBL-2024-0002.pdf",
            "type": "application/pdf",
            "size": len(rendered_pdf("UBL-2024-0002")),
        },
        {
            "n": 3,
            "name": "terms.pdf",
            "type": "application/pdf",
            "size": len(rendered_pdf("Terms")),
        },
    ]
    csv_file = await client.get(f"/api/v1/documents/{document_id}/attachments/1")
    assert csv_file.content == USAGE_CSV
    # Not text/csv: only a PDF, PNG or JPEG that is one keeps its declared type.
    assert csv_file.headers["content-type"] == "application/octet-stream"
    assert csv_file.headers["content-disposition"] == 'attachment; filename="usage.csv"'
    assert csv_file.headers["cache-control"] == "no-store"
    assert csv_file.headers["x-content-type-options"] == "nosniff"
    terms = await client.get(f"/api/v1/documents/{document_id}/attachments/3")
    assert terms.content == rendered_pdf("Terms")
    assert terms.headers["content-type"] == "application/pdf"
    assert terms.headers["content-disposition"] == 'attachment; filename="terms.pdf"'
    assert (await client.get(f"/api/v1/documents/{document_id}/attachments/4")).status_code == 404
    opened = await db.fetch(
        "SELECT detail FROM audit_event WHERE kind = 'document_opened' AND document_id = $1",
        document_id,
    )
    assert sorted(json.loads(r["detail"])["attachment"] for r in opened) == [1, 3]
    activity = await client.get("/me/activity")
    assert "(attachment 1)" in activity.text and "(attachment 3)" in activity.text


async def test_a_fake_pdf_attachment_is_served_as_plain_bytes(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    document_id = (await publish(client, issuer, with_fake_pdf()))["id"]

    fake = await client.get(f"/api/v1/documents/{document_id}/attachments/2")

    assert fake.content == b"hello world, not a PDF"
    assert fake.headers["content-type"] == "application/octet-stream"
    assert fake.headers["content-disposition"].startswith("attachment;")


async def test_a_document_without_embedded_files_lists_none(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    document_id = (await publish(client, issuer, ubl_invoice()))["id"]

    listed = await client.get(f"/api/v1/documents/{document_id}/attachments")

    assert listed.json() == {"items": []}


async def test_someone_elses_attachments_answer_404_like_none(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    document_id = (await publish(client, issuer, fixture("ubl_invoice_with_pdf.xml")))["id"]
    bob = await factories.user("bob@example.test")
    await factories.account(bob, await factories.client_number(issuer["id"], "DL20000099"))
    client.cookies.clear()
    assert (await form_login(client, "bob@example.test", factories.PASSWORD)).status_code == 303

    for path in ("attachments", "attachments/1"):
        theirs = await client.get(f"/api/v1/documents/{document_id}/{path}")
        missing = await client.get(f"/api/v1/documents/{MISSING}/{path}")
        assert theirs.status_code == missing.status_code == 404
        assert theirs.content == missing.content


async def test_the_issuer_gets_the_files_its_clients_get(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    document_id = (await publish(client, issuer, fixture("ubl_invoice_with_pdf.xml")))["id"]
    clients_pdf = await client.get(f"/api/v1/documents/{document_id}/pdf")
    clients_xml = await client.get(f"/api/v1/documents/{document_id}/xml")
    client.cookies.clear()

    pdf = await client.get(f"/api/v1/issuer/documents/{document_id}/pdf", headers=issuer["auth"])
    xml = await client.get(f"/api/v1/issuer/documents/{document_id}/xml", headers=issuer["auth"])

    assert pdf.status_code == 200 and pdf.content == clients_pdf.content
    assert pdf.headers["content-type"] == "application/pdf"
    assert xml.status_code == 200 and xml.content == clients_xml.content
    assert xml.content == fixture("ubl_invoice_with_pdf.xml")
    assert pdf.headers["cache-control"] == "no-store"


async def test_another_issuers_document_answers_404_like_none(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    document_id = (await publish(client, issuer, fixture("ubl_invoice_with_pdf.xml")))["id"]
    _, other_key = await create_issuer("AB3", "Another Lease", "en")
    other = {"Authorization": f"Bearer {other_key}"}
    client.cookies.clear()

    for file in ("pdf", "xml"):
        theirs = await client.get(f"/api/v1/issuer/documents/{document_id}/{file}", headers=other)
        missing = await client.get(f"/api/v1/issuer/documents/{MISSING}/{file}", headers=other)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.content == missing.content


async def test_an_issuers_xml_only_document_gets_the_pdf_its_clients_get(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    document_id = (await publish(client, issuer, ubl_invoice()))["id"]
    path = f"/api/v1/documents/{document_id}/pdf"
    clients = {}
    for language in ("fr", "nl"):  # the language the client chose on the portal
        client.cookies.set(LANGUAGE_COOKIE, language)
        clients[language] = await client.get(path)
    client.cookies.set(LANGUAGE_COOKIE, "fr")
    again = await client.get(path)
    client.cookies.clear()

    for language, clients_pdf in clients.items():
        asked = {**issuer["auth"], "Accept-Language": language}
        pdf = await client.get(f"/api/v1/issuer/documents/{document_id}/pdf", headers=asked)

        assert clients_pdf.status_code == pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content == clients_pdf.content, language
        text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        mark = i18n.translate(RENDERING_MARK, language)
        assert " ".join(mark.split())[:30] in " ".join(text.split()), language
    # Made fresh on each request, yet the same bytes: no date or random ID inside.
    assert again.content == clients["fr"].content
    assert clients["fr"].content != clients["nl"].content
