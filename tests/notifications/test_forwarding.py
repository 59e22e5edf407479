"""Forwarding to accounting software: a confirmed inbox gets every new document of the
number once, one message each with the stored PDF and XML attached, over the real SMTP
server; an unconfirmed one gets the link and nothing else; a link works once; a
worker that dies between queueing and marking never makes a second message."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest

from iportal import clock, db
from iportal.accounts.tables import AuditEvent, ClientNumber
from iportal.documents.storage import FolderBlobStore
from iportal.errors import Gone
from iportal.notifications import forwarding, services
from iportal.notifications.forwards import attacher, forward_overview, queue_forwards
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.notices import BURST_WAIT, claim_events, notify_due
from iportal.notifications.tables import DocumentEvent, OutboxEmail
from iportal.sharing.tables import Grant
from tests import factories
from tests.conftest import Mailbox

INBOX = "purchase@bakkerij.yuki.example"
XML = b'<?xml version="1.0"?><Invoice xmlns="urn:oasis:names:specification:ubl"/>'
LINK = re.compile(r"/forwarding/confirm\?token=([\w-]+)")


async def client_code_of(client_number_id: int) -> str:
    row = await ClientNumber.select(ClientNumber.client_code).where(
        ClientNumber.id == client_number_id
    )
    return str(row[0]["client_code"])


async def send(settings: Any) -> None:
    store = FolderBlobStore(settings.blob_dir)
    await services.deliver_due(
        SmtpMailer(settings), settings.mail_from, key="k", attach=attacher(store.read)
    )


def move_clock(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    moved = clock.utcnow() + by
    monkeypatch.setattr(clock, "utcnow", lambda: moved)


async def notify_and_send(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    move_clock(monkeypatch, BURST_WAIT + timedelta(seconds=1))
    await notify_due(settings)
    await send(settings)


async def confirm_from_mailbox(settings: Any, mailbox: Mailbox, inbox: str = INBOX) -> str:
    """Sends what is queued and uses the link the inbox received; returns the token."""
    await send(settings)
    [message] = [m for m in mailbox.to(inbox) if LINK.search(text_of(m))]
    match = LINK.search(text_of(message))
    assert match
    await forwarding.confirm_forwarding_address(settings, match.group(1))
    return match.group(1)


async def publish(settings: Any, client_number_id: int, number: str, *, xml: bool) -> tuple:
    """A document with real blobs and its event; returns (id, pdf bytes, xml bytes)."""
    store = FolderBlobStore(settings.blob_dir)
    pdf = factories.invoice_pdf(number)
    values: dict[str, Any] = {"pdf_blob_hash": await store.put(pdf)}
    if xml:
        values.update(xml_blob_hash=await store.put(XML), structured_kind="ubl")
    document_id = await factories.document(client_number_id, number=number, **values)
    await DocumentEvent.insert(DocumentEvent(document=document_id, client_number=client_number_id))
    return document_id, pdf, XML if xml else None


def text_of(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())


def attachments(message: EmailMessage) -> dict[str, bytes]:
    return {
        str(part.get_filename()): part.get_payload(decode=True)
        for part in message.iter_attachments()
    }


async def numbered(main_email: str = "anna@fw.example", *, kind: str = "b2b") -> tuple[int, int]:
    """A number in an account of its main contact: (client number id, main contact id)."""
    issuer = await factories.issuer(name="Lease Partners NV")
    number = await factories.client_number(issuer, company_name="Bakkerij Peeters")
    main = await factories.user(main_email, language="nl")
    await factories.account(main, number, kind=kind)
    return number, main


async def test_a_confirmed_inbox_gets_each_document_once_with_its_pdf_and_xml(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, main = await numbered()
    code = await client_code_of(number)
    added = await forwarding.add_forwarding_address(settings, main, code, INBOX.upper())
    assert (added.email, added.state) == (INBOX, "waiting_confirmation")
    await confirm_from_mailbox(settings, mailbox)
    [listed] = await forwarding.forwarding_addresses(main, code)
    assert listed.state == "active" and listed.added_by == "anna@fw.example"
    mailbox.messages.clear()

    structured, pdf, xml = await publish(settings, number, "F2026-001", xml=True)
    _, plain_pdf, _ = await publish(settings, number, "F2026/002", xml=False)
    await notify_and_send(settings, monkeypatch)

    messages = {m["Subject"]: m for m in mailbox.to(INBOX)}
    assert sorted(messages) == [
        f"Factuur F2026-001 — Lease Partners NV — {code}",
        f"Factuur F2026/002 — Lease Partners NV — {code}",
    ]
    first = messages[f"Factuur F2026-001 — Lease Partners NV — {code}"]
    # The stored files, byte for byte: what the accounting software reads.
    assert attachments(first) == {"F2026-001.pdf": pdf, "F2026-001.xml": xml}
    assert first["To"] == INBOX and "Bakkerij Peeters" in text_of(first)
    second = messages[f"Factuur F2026/002 — Lease Partners NV — {code}"]
    assert attachments(second) == {"F2026_002.pdf": plain_pdf}
    # The notice to the main contact is a separate e-mail, without files.
    [notice] = mailbox.to("anna@fw.example")
    assert list(notice.iter_attachments()) == []

    # Handled once: later rounds send nothing more, and each forward is audited.
    move_clock(monkeypatch, timedelta(hours=2))
    await notify_due(settings)
    await send(settings)
    assert len(mailbox.to(INBOX)) == 2
    audited = await AuditEvent.select(AuditEvent.document_id, AuditEvent.detail).where(
        AuditEvent.kind == "document_forwarded"
    )
    assert structured in {row["document_id"] for row in audited} and len(audited) == 2
    kinds = await AuditEvent.select(AuditEvent.kind).where(AuditEvent.client_number == number)
    assert {"forwarding_address_added", "forwarding_address_confirmed"} <= {
        row["kind"] for row in kinds
    }
    # The operator's view (`iportal outbox`) lists them; they are the inbox's messages,
    # not the main contact's (a refusal says nothing about her own address).
    counts, entries = await forward_overview()
    assert counts == {"pending": 0, "sent": 2, "failed": 0}
    assert {(e.document_number, e.recipient, e.client_code) for e in entries} == {
        ("F2026-001", INBOX, code),
        ("F2026/002", INBOX, code),
    }
    forwards = OutboxEmail.document.is_not_null()
    assert await OutboxEmail.count().where(forwards & OutboxEmail.user.is_null()) == 2


async def test_an_unconfirmed_inbox_gets_the_link_and_nothing_else(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, main = await numbered()
    code = await client_code_of(number)
    await forwarding.add_forwarding_address(settings, main, code, INBOX)
    await publish(settings, number, "U-1", xml=True)
    await notify_and_send(settings, monkeypatch)
    [only] = mailbox.to(INBOX)
    assert LINK.search(text_of(only)) and list(only.iter_attachments()) == []
    assert code in only["Subject"]
    assert await OutboxEmail.count().where(OutboxEmail.document.is_not_null()) == 0


async def test_the_confirmation_link_works_once_and_not_after_a_week(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, main = await numbered()
    code = await client_code_of(number)
    await forwarding.add_forwarding_address(settings, main, code, INBOX)
    token = await confirm_from_mailbox(settings, mailbox)
    with pytest.raises(Gone):
        await forwarding.confirm_forwarding_address(settings, token)
    with pytest.raises(Gone):
        await forwarding.confirmation(settings, token)
    with pytest.raises(Gone):
        await forwarding.confirm_forwarding_address(settings, "made-up-token")

    late = "late@octopus.example"
    await forwarding.add_forwarding_address(settings, main, code, late)
    await send(settings)
    match = LINK.search(text_of(mailbox.to(late)[0]))
    assert match
    move_clock(monkeypatch, forwarding.CONFIRM_FOR + timedelta(seconds=1))
    with pytest.raises(Gone):
        await forwarding.confirm_forwarding_address(settings, match.group(1))
    states = {a.email: a.state for a in await forwarding.forwarding_addresses(main, code)}
    assert states == {INBOX: "active", late: "waiting_confirmation"}


class _Crash(Exception):
    """A worker dying in the middle of its round."""


async def test_a_worker_crash_between_queueing_and_marking_never_sends_twice(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, main = await numbered()
    code = await client_code_of(number)
    await forwarding.add_forwarding_address(settings, main, code, INBOX)
    await confirm_from_mailbox(settings, mailbox)
    mailbox.messages.clear()
    document, _, _ = await publish(settings, number, "C-1", xml=False)
    move_clock(monkeypatch, BURST_WAIT + timedelta(seconds=1))
    base_url = settings.base_url

    # A worker claims the events, queues the forward and dies before marking them:
    # its transaction takes the forward with it.
    with pytest.raises(_Crash):
        async with db.transaction():
            claimed = await claim_events(clock.utcnow())
            assert await queue_forwards([r["document_id"] for r in claimed], base_url) == 1
            raise _Crash
    assert await OutboxEmail.count().where(OutboxEmail.document == document) == 0

    # A worker whose forward was committed but whose events stayed unmarked (the same
    # event handled again): the next round adds nothing, by the unique constraint.
    assert await queue_forwards([document], base_url) == 1
    assert await notify_due(settings) == 1
    assert await queue_forwards([document], base_url) == 0
    assert await OutboxEmail.count().where(OutboxEmail.document == document) == 1
    await send(settings)
    await send(settings)
    assert len(mailbox.to(INBOX)) == 1

    # And the database itself refuses a second row for the pair.
    [row] = await OutboxEmail.select().where(OutboxEmail.document == document)
    with pytest.raises(asyncpg.UniqueViolationError):
        async with db.transaction():
            await db.execute(
                "INSERT INTO outbox_email (recipient, language, template, subject, body_text,"
                " document_id, forwarding_address_id) VALUES ($1, 'en', 't', 's', 'b', $2, $3)",
                INBOX,
                document,
                row["forwarding_address_id"],
            )


async def test_a_shared_users_inbox_stops_when_their_access_ends(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, main = await numbered()
    code = await client_code_of(number)
    account = await db.fetchval("SELECT account_id FROM client_number WHERE id = $1", number)
    accountant = await factories.user("luc@accountants.example", language="fr")
    shared = await factories.shared_user(account, accountant, number)
    theirs = "luc-inbox@exact.example"
    await forwarding.add_forwarding_address(settings, accountant, code, theirs)
    await confirm_from_mailbox(settings, mailbox, theirs)
    await forwarding.add_forwarding_address(settings, main, code, INBOX)
    await confirm_from_mailbox(settings, mailbox, INBOX)
    # The shared user sees their own address only; the main contact sees both.
    assert [a.email for a in await forwarding.forwarding_addresses(accountant, code)] == [theirs]
    assert len(await forwarding.forwarding_addresses(main, code)) == 2
    mailbox.messages.clear()

    await publish(settings, number, "S-1", xml=False)
    await notify_and_send(settings, monkeypatch)
    [first] = mailbox.to(theirs)
    assert first["Subject"].startswith("Facture S-1")  # in the French of who added it
    assert len(mailbox.to(INBOX)) == 1

    await Grant.delete().where(Grant.shared_user == shared)
    await publish(settings, number, "S-2", xml=False)
    await notify_and_send(settings, monkeypatch)
    assert len(mailbox.to(theirs)) == 1  # revoked: no more forwards
    assert len(mailbox.to(INBOX)) == 2


async def test_removing_an_address_drops_what_is_still_queued_for_it(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, main = await numbered()
    code = await client_code_of(number)
    added = await forwarding.add_forwarding_address(settings, main, code, INBOX)
    await confirm_from_mailbox(settings, mailbox)
    mailbox.messages.clear()
    await publish(settings, number, "R-1", xml=False)
    move_clock(monkeypatch, BURST_WAIT + timedelta(seconds=1))
    await notify_due(settings)
    await forwarding.remove_forwarding_address(main, code, added.id)
    await send(settings)
    assert mailbox.to(INBOX) == []
    assert await forwarding.forwarding_addresses(main, code) == []


async def test_a_forward_whose_file_cannot_be_read_is_failing_and_tried_again(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, main = await numbered()
    code = await client_code_of(number)
    await forwarding.add_forwarding_address(settings, main, code, INBOX)
    await confirm_from_mailbox(settings, mailbox)
    mailbox.messages.clear()
    # A row whose blob is not in the store (the factories' placeholder hash).
    document = await factories.document(number, number="B-1", pdf_blob_hash="f" * 64)
    await DocumentEvent.insert(DocumentEvent(document=document, client_number=number))
    await notify_and_send(settings, monkeypatch)
    assert mailbox.to(INBOX) == []
    [address] = await forwarding.forwarding_addresses(main, code)
    assert address.state == "failing" and "pdf not readable" in address.last_error
