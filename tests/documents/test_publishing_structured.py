"""Publishing Factur-X and UBL: the e-invoice gives the fields, its buyer reference the
client number (code or alias, never a name); metadata may complete it, never contradict
it. The real samples written by others are published and every field checked."""

from __future__ import annotations

import csv
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from iportal.accounts.services import create_issuer
from iportal.documents.storage import FolderBlobStore, blob_hash
from iportal.documents.tables import Document
from tests import factories
from tests.documents.einvoice_helpers import fixture
from tests.documents.fixtures.make_fixtures import EXPECTED

SAMPLES = Path(
    os.environ.get(
        "IPORTAL_EINVOICE_SAMPLES",
        Path(__file__).resolve().parents[3] / "shared" / "einvoice-samples",
    )
)


@pytest.fixture
async def issuer(transaction: Any) -> dict[str, Any]:
    issuer_id, key = await create_issuer("DL2", "Demo Lease Services", "en")
    return {"id": issuer_id, "auth": {"Authorization": f"Bearer {key}"}}


async def number_with_aliases(issuer: dict[str, Any], code: str, *aliases: str) -> int:
    from iportal.accounts.tables import ClientNumberAlias

    number_id = await factories.client_number(issuer["id"], code)
    for alias in aliases:
        await ClientNumberAlias.insert(
            ClientNumberAlias(issuer=issuer["id"], client_number=number_id, reference=alias)
        )
    return number_id


async def publish(
    client: httpx.AsyncClient,
    issuer: dict[str, Any],
    content: bytes,
    name: str,
    meta: dict[str, str] | None = None,
) -> httpx.Response:
    data = {"metadata": json.dumps(meta)} if meta else {}
    return await client.post(
        "/api/v1/issuer/documents",
        headers=issuer["auth"],
        files={"file": (name, content)},
        data=data,
    )


async def stored(document_id: int) -> dict[str, Any]:
    row = await Document.select().where(Document.id == document_id).first()
    assert row is not None
    return row


async def test_a_factur_x_pdf_alone_is_published_from_its_xml(
    client: httpx.AsyncClient, issuer: dict[str, Any], settings: Any
) -> None:
    await number_with_aliases(issuer, "DL20012345")
    content = fixture("fx_basic_invoice.pdf")
    response = await publish(client, issuer, content, "fx.pdf")
    assert response.status_code == 201, response.text
    expected = EXPECTED["fx_basic_invoice.pdf"]
    row = await stored(response.json()["id"])
    assert row["number"] == expected["number"] and row["type_code"] == "380"
    assert row["amount_incl_vat"] == expected["amount_incl_vat"]
    assert row["structured_kind"] == "factur_x"
    assert row["pdf_blob_hash"] == blob_hash(content)
    xml = await FolderBlobStore(settings.blob_dir).read(row["xml_blob_hash"])
    assert b"CrossIndustryInvoice" in xml


async def test_a_buyer_reference_matches_an_alias_exactly(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    await number_with_aliases(issuer, "DL20000077", "0208:0123456749")
    response = await publish(client, issuer, fixture("fx_basic_credit_note.pdf"), "cn.pdf")
    assert response.status_code == 201, response.text
    assert response.json()["client_code"] == "DL20000077"
    assert response.json()["type"] == "credit_note"


async def test_no_matching_reference_is_refused_with_the_references(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    await number_with_aliases(issuer, "DL20000077", "0208:9999999999")
    response = await publish(client, issuer, fixture("fx_basic_credit_note.pdf"), "cn.pdf")
    assert response.status_code == 422
    assert "0208:0123456749" in response.json()["detail"]
    assert await Document.count() == 0


async def test_metadata_may_complete_but_never_contradict(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    await number_with_aliases(issuer, "DL20012345")
    content = fixture("fx_basic_invoice.pdf")
    contradicting = await publish(client, issuer, content, "fx.pdf", {"amount_incl_vat": "999.00"})
    assert contradicting.status_code == 422
    assert "amount_incl_vat" in contradicting.json()["detail"]
    wrong_number = await publish(client, issuer, content, "fx.pdf", {"number": "OTHER-1"})
    assert "number" in wrong_number.json()["detail"]
    assert await Document.count() == 0
    agreeing = await publish(
        client,
        issuer,
        content,
        "fx.pdf",
        {"client_code": "DL20012345", "number": EXPECTED["fx_basic_invoice.pdf"]["number"]},
    )
    assert agreeing.status_code == 201


async def test_a_ubl_invoice_with_an_embedded_pdf(
    client: httpx.AsyncClient, issuer: dict[str, Any], settings: Any
) -> None:
    await number_with_aliases(issuer, "DL20012345")
    content = fixture("ubl_invoice_with_pdf.xml")
    response = await publish(client, issuer, content, "invoice.xml")
    assert response.status_code == 201, response.text
    row = await stored(response.json()["id"])
    assert row["structured_kind"] == "ubl" and row["page_count"] >= 1
    pdf = await FolderBlobStore(settings.blob_dir).read(row["pdf_blob_hash"])
    assert pdf.startswith(b"%PDF-")
    assert await FolderBlobStore(settings.blob_dir).read(row["xml_blob_hash"]) == content


async def test_a_ubl_credit_note_without_pdf_keeps_its_xml(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    await number_with_aliases(issuer, "DL20000088", "0088:5400000000024")
    response = await publish(client, issuer, fixture("ubl_credit_note.xml"), "cn.xml")
    assert response.status_code == 201, response.text
    row = await stored(response.json()["id"])
    assert row["pdf_blob_hash"] is None and row["xml_blob_hash"] is not None
    assert row["type"] == "credit_note" and row["amount_incl_vat"] > 0


async def test_an_entity_bomb_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "&lol%d;&lol%d;&lol%d;&lol%d;">' % (i, i - 1, i - 1, i - 1, i - 1)
            for i in range(1, 10)
        )
        + b']><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'
        b"&lol9;</Invoice>"
    )
    response = await publish(client, issuer, bomb.replace(b"&lol0;", b"&lol;"), "bomb.xml")
    assert response.status_code == 422
    assert await Document.count() == 0


def _samples() -> list[dict[str, str]]:
    if not (SAMPLES / "expected.csv").exists():
        return []
    return list(csv.DictReader((SAMPLES / "expected.csv").open(encoding="utf-8")))


@pytest.mark.skipif(
    not (SAMPLES / "expected.csv").exists(), reason="../shared/einvoice-samples is not here"
)
@pytest.mark.parametrize("sample", _samples(), ids=lambda s: s["file"])
async def test_each_real_sample_is_published_with_every_field(
    client: httpx.AsyncClient, issuer: dict[str, Any], sample: dict[str, str]
) -> None:
    reference = sample["buyer_reference"]
    meta = None
    if reference:
        await number_with_aliases(issuer, "DL20000001", reference)
    else:  # the buyer has no identifier at all: the metadata names the client code
        await number_with_aliases(issuer, "DL20000001")
        meta = {"client_code": "DL20000001"}
    content = (SAMPLES / sample["file"]).read_bytes()
    response = await publish(client, issuer, content, sample["file"], meta)
    assert response.status_code == 201, response.text
    row = await stored(response.json()["id"])
    assert row["type"] == sample["type"]
    assert row["number"] == sample["number"]
    assert row["issue_date"].isoformat() == sample["issue_date"]
    assert (row["due_date"].isoformat() if row["due_date"] else "") == sample["due_date"]
    assert row["currency"] == sample["currency"]
    for name in ("amount_excl_vat", "vat_amount", "amount_incl_vat"):
        assert row[name] == Decimal(sample[name]), name
    assert row["structured_kind"] == ("factur_x" if sample["format"] == "facturx_pdf" else "ubl")
    again = await publish(client, issuer, content, sample["file"], meta)
    assert again.status_code == 200 and again.json()["status"] == "already_published"
