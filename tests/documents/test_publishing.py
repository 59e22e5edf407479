"""Publishing through the issuer API: every rejection reason with its message and
nothing stored; the same file twice is a no-op, another file under its number a
conflict; an issuer sees and touches only its own client numbers."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader, PdfWriter

from iportal import clock
from iportal.accounts.services import create_issuer
from iportal.documents.storage import STAGING, FolderBlobStore, blob_hash
from iportal.documents.tables import Document
from iportal.notifications.tables import DocumentEvent, OutboxEmail
from tests import factories

CODE = "DL20012345"


@pytest.fixture
async def issuer(transaction: Any) -> dict[str, Any]:
    issuer_id, key = await create_issuer("DL2", "Demo Lease Services", "nl")
    number_id = await factories.client_number(
        issuer_id, CODE, email="billing@client.example", language="fr", company_name="Client SA"
    )
    return {
        "id": issuer_id,
        "key": key,
        "number_id": number_id,
        "auth": {"Authorization": f"Bearer {key}"},
    }


async def post(
    client: httpx.AsyncClient,
    issuer: dict[str, Any],
    content: bytes,
    meta: dict[str, str] | None,
    filename: str = "invoice.pdf",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    data = {"metadata": json.dumps(meta)} if meta is not None else {}
    return await client.post(
        "/api/v1/issuer/documents",
        headers=headers or issuer["auth"],
        files={"file": (filename, content, "application/octet-stream")},
        data=data,
    )


async def blob_exists(settings: Any, content: bytes) -> bool:
    """In place, or still staged (a rejected file's staged bytes must be gone too)."""
    digest = blob_hash(content)
    staged = list((settings.blob_dir / STAGING).glob(f"{digest}-*"))
    return await FolderBlobStore(settings.blob_dir).exists(digest) or bool(staged)


async def test_a_pdf_with_metadata_is_published(
    client: httpx.AsyncClient, issuer: dict[str, Any], settings: Any
) -> None:
    pdf = factories.invoice_pdf()
    response = await post(client, issuer, pdf, factories.metadata(client_code="dl2-001 2345"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "published"
    assert body["client_code"] == CODE
    assert body["amount_incl_vat"] == "121.00"  # Decimal, as a string
    row = await Document.select().where(Document.id == body["id"]).first()
    assert row["amount_incl_vat"] == Decimal("121.00")
    assert row["pdf_blob_hash"] == blob_hash(pdf) and row["page_count"] == 1
    assert await blob_exists(settings, pdf)
    assert await DocumentEvent.count().where(DocumentEvent.document == body["id"]) == 1


async def test_the_same_file_again_changes_nothing(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    pdf = factories.invoice_pdf()
    first = await post(client, issuer, pdf, factories.metadata())
    again = await post(client, issuer, pdf, factories.metadata())
    assert again.status_code == 200
    assert again.json()["status"] == "already_published"
    assert again.json()["id"] == first.json()["id"]
    assert await Document.count() == 1
    assert await DocumentEvent.count() == 1


async def test_another_file_under_the_same_number_is_a_conflict(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    first = factories.invoice_pdf(amount="100.00")
    await post(client, issuer, first, factories.metadata())
    other = factories.invoice_pdf(amount="200.00")
    response = await post(
        client,
        issuer,
        other,
        factories.metadata(amount_excl_vat="200.00", vat_amount="42.00", amount_incl_vat="242.00"),
    )
    assert response.status_code == 409
    assert "F2024-001" in response.json()["detail"]
    row = await Document.select(Document.pdf_blob_hash, Document.amount_incl_vat).first()
    assert row == {"pdf_blob_hash": blob_hash(first), "amount_incl_vat": Decimal("121.00")}


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(factories.invoice_pdf())))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


REJECTIONS = [
    ("not a pdf", b"Invoice F2024-001, total 121.00 EUR\n", {}, "Dit is geen PDF"),
    ("empty", b"", {}, "Het bestand is leeg"),
    ("encrypted", None, {}, "versleuteld"),
    (
        "unreadable",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\ntrailer<<>>\n%%EOF",
        {},
        "De PDF kan niet gelezen worden",
    ),
    ("unknown client", None, {"client_code": "DL29999999"}, "Klantcode DL29999999 is onbekend"),
    (
        "other issuer's client",
        None,
        {"client_code": "DL50000001"},
        "Klantcode DL50000001 is onbekend",
    ),
    ("amounts", None, {"amount_incl_vat": "121.01"}, "De bedragen kloppen niet"),
    (
        "credit note negative",
        None,
        {
            "type": "credit_note",
            "amount_excl_vat": "-100.00",
            "vat_amount": "-21.00",
            "amount_incl_vat": "-121.00",
        },
        "Een creditnota vermeldt positieve bedragen",
    ),
    (
        "invoice negative",
        None,
        {"amount_excl_vat": "-100.00", "vat_amount": "-21.00", "amount_incl_vat": "-121.00"},
        "corrigerende factuur",
    ),
    (
        "future",
        None,
        {"issue_date": (clock.today() + timedelta(days=3)).isoformat(), "due_date": ""},
        "ligt in de toekomst",
    ),
    ("bad date", None, {"issue_date": "31/01/2024"}, "is geen datum"),
    ("bad amount", None, {"vat_amount": "21,00"}, "is geen bedrag"),
    ("three decimals", None, {"vat_amount": "21.001"}, "meer dan twee decimalen"),
    ("currency", None, {"currency": "EURO"}, "is geen muntcode"),
    ("missing number", None, {"number": ""}, "ontbreekt"),
    ("bad type", None, {"type": "receipt"}, "receipt"),
]


@pytest.mark.parametrize(
    ("case", "content", "changes", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
async def test_every_rejection_says_why_and_stores_nothing(
    client: httpx.AsyncClient,
    issuer: dict[str, Any],
    settings: Any,
    case: str,
    content: bytes | None,
    changes: dict[str, str],
    message: str,
) -> None:
    if case == "other issuer's client":
        other_id, _ = await create_issuer("DL5", "Other Lease")
        await factories.client_number(other_id, "DL50000001")
    pdf = encrypted_pdf() if case == "encrypted" else content
    pdf = factories.invoice_pdf(number=f"R-{case}") if pdf is None else pdf
    response = await post(client, issuer, pdf, factories.metadata(**changes))
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]  # in the issuer's language (nl)
    assert await Document.count() == 0
    assert await OutboxEmail.count() == 0
    assert not pdf or not await blob_exists(settings, pdf)


async def test_a_file_over_the_size_limit_is_refused(
    client: httpx.AsyncClient, issuer: dict[str, Any], settings: Any
) -> None:
    big = factories.invoice_pdf() + b"%" + b"x" * (1024 * 1024)
    client._transport.app.state.settings = dataclasses.replace(  # type: ignore[attr-defined]
        settings, max_upload_bytes=1024 * 1024
    )
    response = await post(client, issuer, big, factories.metadata())
    assert response.status_code == 422
    assert "meer dan de toegelaten 1 MB" in response.json()["detail"]
    assert not await blob_exists(settings, big)


async def test_a_pdf_with_too_many_pages_is_refused(
    client: httpx.AsyncClient, issuer: dict[str, Any], settings: Any
) -> None:
    client._transport.app.state.settings = dataclasses.replace(  # type: ignore[attr-defined]
        settings, max_pages=2
    )
    pdf = factories.invoice_pdf(pages=3)
    response = await post(client, issuer, pdf, factories.metadata())
    assert response.status_code == 422
    assert "3 pagina's" in response.json()["detail"]


async def test_without_a_key_or_with_a_wrong_one_nothing_happens(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    pdf = factories.invoice_pdf()
    key = issuer["auth"]["Authorization"]
    for headers in (
        {},
        {"Authorization": "Bearer ipk_aaaaaaaaaaaa_" + "x" * 43},
        # The last character changed (the key is random: it may end in "A" already).
        {"Authorization": key[:-1] + ("B" if key.endswith("A") else "A")},
    ):
        response = await client.post(
            "/api/v1/issuer/documents",
            headers=headers,
            files={"file": ("a.pdf", pdf)},
            data={"metadata": json.dumps(factories.metadata())},
        )
        assert response.status_code == 401
    assert await Document.count() == 0


async def test_a_revoked_key_no_longer_works(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    from iportal.accounts.services import list_api_keys, revoke_api_key

    [key] = await list_api_keys("DL2")
    await revoke_api_key("DL2", key.key_id)
    response = await post(client, issuer, factories.invoice_pdf(), factories.metadata())
    assert response.status_code == 401


async def test_a_new_document_for_a_number_without_account_invites_its_contact(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    await post(client, issuer, factories.invoice_pdf("F-1"), factories.metadata(number="F-1"))
    [invitation] = await OutboxEmail.select().where(OutboxEmail.template == "invitation")
    assert invitation["recipient"] == "billing@client.example"
    assert invitation["language"] == "fr"
    assert "/activate?code=" in invitation["body_text"]
    # A second document while that invitation still waits adds no second one…
    await post(client, issuer, factories.invoice_pdf("F-2"), factories.metadata(number="F-2"))
    assert await OutboxEmail.count().where(OutboxEmail.template == "invitation") == 1
    # …but once it is sent (and perhaps lost), the next document brings a fresh code.
    await OutboxEmail.update({OutboxEmail.state: "sent"}).where(OutboxEmail.id == invitation["id"])
    await post(client, issuer, factories.invoice_pdf("F-3"), factories.metadata(number="F-3"))
    rows = await OutboxEmail.select(OutboxEmail.body_text).where(
        OutboxEmail.template == "invitation"
    )
    codes = {row["body_text"].split("code=")[1].split()[0] for row in rows}
    assert len(rows) == 2 and len(codes) == 2


async def test_an_invitation_held_for_a_bounced_address_still_waits(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    """Held (its address refused or bounced mail) is waiting too: publishing more for
    the number queues no second invitation behind it."""
    await post(client, issuer, factories.invoice_pdf("H-1"), factories.metadata(number="H-1"))
    await OutboxEmail.update({OutboxEmail.state: "held"}).where(
        OutboxEmail.template == "invitation"
    )
    await post(client, issuer, factories.invoice_pdf("H-2"), factories.metadata(number="H-2"))
    assert await OutboxEmail.count().where(OutboxEmail.template == "invitation") == 1


async def test_a_number_with_an_account_gets_no_invitation(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    user_id = await factories.user()
    await factories.account(user_id, issuer["number_id"])
    response = await post(client, issuer, factories.invoice_pdf(), factories.metadata())
    assert response.status_code == 201
    assert await OutboxEmail.count() == 0
    assert await DocumentEvent.count() == 1


async def test_the_issuer_lists_only_its_own_documents(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    other_id, other_key = await create_issuer("DL5", "Other Lease")
    await factories.client_number(other_id, "DL50000001")
    for n in range(3):
        await post(
            client, issuer, factories.invoice_pdf(f"F-{n}"), factories.metadata(number=f"F-{n}")
        )
    other_auth = {"Authorization": f"Bearer {other_key}"}
    await post(
        client,
        issuer,
        factories.invoice_pdf("G-1", "DL50000001"),
        factories.metadata("DL50000001", "G-1"),
        headers=other_auth,
    )
    first = await client.get("/api/v1/issuer/documents?limit=2", headers=issuer["auth"])
    assert first.status_code == 200
    page = first.json()
    assert [item["number"] for item in page["items"]] == ["F-2", "F-1"]
    rest = await client.get(
        f"/api/v1/issuer/documents?limit=2&cursor={page['next_cursor']}", headers=issuer["auth"]
    )
    assert [item["number"] for item in rest.json()["items"]] == ["F-0"]
    assert rest.json()["next_cursor"] is None
    theirs = await client.get(
        "/api/v1/issuer/documents?client_code=DL50000001", headers=issuer["auth"]
    )
    assert theirs.status_code == 404
    mine = await client.get("/api/v1/issuer/documents", headers=other_auth)
    assert [item["number"] for item in mine.json()["items"]] == ["G-1"]


async def test_a_bad_cursor_is_a_clear_400(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    response = await client.get("/api/v1/issuer/documents?cursor=%%%", headers=issuer["auth"])
    assert response.status_code == 422
    assert "cursor" in response.json()["detail"]


async def test_a_number_that_opted_out_gets_no_invitation(
    client: httpx.AsyncClient, issuer: dict[str, Any]
) -> None:
    from iportal.accounts.services import issue_activation_code
    from iportal.accounts.tables import ActivationCode
    from iportal.settings import get_settings

    issued = await issue_activation_code(get_settings(), issuer["number_id"])
    await ActivationCode.update({ActivationCode.redeemed_at: clock.utcnow()}).where(
        ActivationCode.client_number == issuer["number_id"]
    )
    assert issued.code
    response = await post(client, issuer, factories.invoice_pdf(), factories.metadata())
    assert response.status_code == 201
    assert await OutboxEmail.count() == 0  # back on paper by choice: no invitation
