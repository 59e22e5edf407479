"""The shared users of a B2B account through `/api/v1/shared-users`: the main contact
adds, changes and removes them; a new person is invited to choose a password and then
sees exactly the ticked numbers' documents, and no longer once unticked or removed."""

from __future__ import annotations

import re
from typing import Any

import httpx

from iportal.accounts.tables import AuditEvent
from iportal.documents.storage import FolderBlobStore
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.services import deliver_due
from tests import factories
from tests.accounts.opt_in_helpers import NEW_PASSWORD, api_login, token_of
from tests.conftest import Mailbox

API = "/api/v1/shared-users"
INVITE_LINK = re.compile(r"(https?://\S+/password-reset/confirm\?token=[A-Za-z0-9_\-]+)")


async def deliver(settings: Any) -> None:
    """The worker's step: send what the outbox holds."""
    await deliver_due(SmtpMailer(settings), settings.mail_from)


async def anna_and_two_numbers(settings: Any) -> dict[str, Any]:
    """Anna, main contact of a B2B account with two numbers, one document on each."""
    store = FolderBlobStore(settings.blob_dir)
    issuer = await factories.issuer("SHA", "Sha Lease NV")
    first = await factories.client_number(issuer, "SHA0000001")
    second = await factories.client_number(issuer, "SHA0000002")
    anna = await factories.user("anna@peeters.example", first_name="Anna", last_name="Peeters")
    account = await factories.account(anna, first, second)
    docs = {}
    for key, number in (("first", first), ("second", second)):
        pdf = factories.invoice_pdf(f"F-{key}")
        docs[key] = await factories.document(number, pdf_blob_hash=await store.put(pdf))
    return {"account": account, "anna": anna, "docs": docs, "numbers": (first, second)}


async def document_ids(client: httpx.AsyncClient) -> list[int]:
    response = await client.get("/api/v1/documents")
    assert response.status_code == 200, response.text
    return sorted(item["id"] for item in response.json()["items"])


async def test_a_new_person_is_invited_sets_a_password_and_sees_only_the_ticked_number(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    world = await anna_and_two_numbers(settings)
    docs = world["docs"]
    anna = await api_login(client, "anna@peeters.example")
    body = {
        "email": " Luc@Accountants.example ",
        "first_name": "Luc",
        "last_name": "Claes",
        "language": "fr",
        "client_codes": ["sha-000 0001"],
    }
    created = await client.post(API, json=body, headers=anna)
    assert created.status_code == 201, created.text
    luc = created.json()
    assert (luc["email"], luc["has_login"], luc["client_codes"]) == (
        "luc@accountants.example",
        False,
        ["SHA0000001"],
    )
    assert (await client.get(API)).json()["items"] == [luc]
    await deliver(settings)
    [invitation] = mailbox.to("luc@accountants.example")
    assert invitation["Subject"] == "Anna Peeters vous invite sur le portail des factures"
    text = invitation.get_body(("plain",)).get_content()
    assert "SHA0000001" in text and "SHA0000002" not in text and "5 jours" in text
    match = INVITE_LINK.search(text)
    assert match, text
    token = token_of(match.group(1))

    # The link lands on the reset page; the password set there logs Luc in afterwards.
    client.cookies.clear()
    assert (await client.get(f"/password-reset/confirm?token={token}")).status_code == 200
    reset = {"token": token, "password": NEW_PASSWORD}
    set_password = await client.post("/api/v1/auth/password-reset/confirm", json=reset)
    assert set_password.status_code in (200, 204), set_password.text
    again = await client.post("/api/v1/auth/password-reset/confirm", json=reset)
    assert again.status_code == 410  # single use
    await api_login(client, "luc@accountants.example", NEW_PASSWORD)
    assert await document_ids(client) == [docs["first"]]
    assert (await client.get(f"/api/v1/documents/{docs['first']}/pdf")).status_code == 200
    assert (await client.get(f"/api/v1/documents/{docs['second']}/pdf")).status_code == 404

    # Anna moves the tick: Luc, who logs in now, is told; the first number hides at once.
    anna = await api_login(client, "anna@peeters.example")
    moved = await client.patch(
        f"{API}/{luc['id']}", json={"client_codes": ["SHA0000002"]}, headers=anna
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["client_codes"], moved.json()["has_login"]) == (["SHA0000002"], True)
    await deliver(settings)
    subject = "Anna Peeters a partagé des numéros de client avec vous"
    # The invitation, then this: choosing his first password told him nothing more.
    invitation_then_this = mailbox.to("luc@accountants.example")
    assert len(invitation_then_this) == 2, [m["Subject"] for m in invitation_then_this]
    [told] = [m for m in invitation_then_this if m["Subject"] == subject]
    assert "SHA0000002" in told.get_body(("plain",)).get_content()
    await api_login(client, "luc@accountants.example", NEW_PASSWORD)
    assert await document_ids(client) == [docs["second"]]
    assert (await client.get(f"/api/v1/documents/{docs['first']}/pdf")).status_code == 404

    # Removed: nothing left, from the next request on.
    anna = await api_login(client, "anna@peeters.example")
    assert (await client.delete(f"{API}/{luc['id']}", headers=anna)).status_code == 204
    assert (await client.get(API)).json()["items"] == []
    await api_login(client, "luc@accountants.example", NEW_PASSWORD)
    assert await document_ids(client) == []
    assert (await client.get(f"/api/v1/documents/{docs['second']}/pdf")).status_code == 404

    events = (
        await AuditEvent.select(AuditEvent.kind)
        .where(AuditEvent.account == world["account"])
        .order_by(AuditEvent.id)
    )
    assert [e["kind"] for e in events] == [
        "shared_user_created",
        "grant_added",
        "document_opened",  # Luc's opening of the account's number is the account's
        "grant_revoked",
        "grant_added",
        "shared_user_updated",
        "grant_revoked",
        "shared_user_deleted",
    ]


async def test_a_person_who_logs_in_already_is_told_and_bad_requests_are_refused(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    world = await anna_and_two_numbers(settings)
    other = await factories.client_number(client_code="SHB0000009")
    await factories.account(await factories.user("bert@elsewhere.example"), other)
    await factories.user("eva@colleagues.example", first_name="Eva", language="nl")
    anna = await api_login(client, "anna@peeters.example")
    body: dict[str, Any] = {
        "email": "eva@colleagues.example",
        "first_name": "Eva",
        "last_name": "Janssens",
        "language": "nl",
        "client_codes": ["SHA0000001", "SHA0000002"],
    }
    foreign = await client.post(API, json={**body, "client_codes": ["SHB0000009"]}, headers=anna)
    assert foreign.status_code == 422 and "SHB0000009" in foreign.json()["detail"]
    assert (await client.get(API)).json()["items"] == []  # nothing half-written
    created = await client.post(API, json=body, headers=anna)
    assert created.status_code == 201, created.text
    assert created.json()["has_login"] is True
    assert (await client.post(API, json=body, headers=anna)).status_code == 409
    yourself = await client.post(API, json={**body, "email": "anna@peeters.example"}, headers=anna)
    assert yourself.status_code == 422
    renamed = await client.patch(
        f"{API}/{created.json()['id']}", json={"first_name": "E."}, headers=anna
    )
    assert renamed.status_code == 409  # her name is hers once she has a login
    await deliver(settings)
    [told] = mailbox.to("eva@colleagues.example")
    assert told["Subject"] == "Anna Peeters heeft klantnummers met u gedeeld"
    text = told.get_body(("plain",)).get_content()
    assert "SHA0000001, SHA0000002" in text and "password-reset" not in text
    assert world["account"]


async def test_another_accounts_shared_user_is_404_byte_for_byte_like_a_missing_one(
    client: httpx.AsyncClient, transaction: Any, settings: Any
) -> None:
    await anna_and_two_numbers(settings)
    bert = await factories.user("bert@elsewhere.example")
    theirs = await factories.client_number(client_code="SHB0000009")
    bert_account = await factories.account(bert, theirs)
    foreign = await factories.shared_user(bert_account, await factories.user(), theirs)
    anna = await api_login(client, "anna@peeters.example")
    for method, body in (("PATCH", {"client_codes": []}), ("DELETE", None)):
        answers = [
            await client.request(method, f"{API}/{shared_user_id}", json=body, headers=anna)
            for shared_user_id in (foreign, foreign + 100_000)
        ]
        assert [a.status_code for a in answers] == [404, 404]
        assert answers[0].content == answers[1].content


async def test_a_shared_user_and_a_b2c_main_contact_get_403(
    client: httpx.AsyncClient, transaction: Any, settings: Any
) -> None:
    world = await anna_and_two_numbers(settings)
    luc = await factories.user("luc@accountants.example")
    await factories.shared_user(world["account"], luc, world["numbers"][0])
    carl = await factories.user("carl@home.example")
    await factories.account(carl, await factories.client_number(), kind="b2c")
    body = {
        "email": "x@y.example",
        "first_name": "X",
        "last_name": "Y",
        "language": "en",
        "client_codes": [],
    }
    for email in ("luc@accountants.example", "carl@home.example"):
        headers = await api_login(client, email)
        assert (await client.get(API)).status_code == 403
        refused = await client.post(API, json=body, headers=headers)
        assert refused.status_code == 403 and refused.json()["detail"]
