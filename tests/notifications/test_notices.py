"""Notices: published documents reach everyone who sees their number, once, in their
language, after a short wait that groups a burst; over the real SMTP server, with the
time moved forward through `iportal.clock` instead of slept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest

from iportal import clock
from iportal.accounts.tables import ClientNumber
from iportal.documents.tables import Document
from iportal.i18n import translate
from iportal.notifications import services
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.notices import (
    BURST_WAIT,
    CLAIM_NUMBERS_SQL,
    CLAIM_SQL,
    NOTICE_LOCK,
    notify_due,
)
from iportal.notifications.tables import DocumentEvent, OutboxEmail
from iportal.notifications.worker import run_worker
from tests import factories
from tests.conftest import Mailbox


async def publish(client_number_id: int, number: str, **values: Any) -> int:
    """A document with its event, as publishing writes them."""
    document_id = await factories.document(client_number_id, number=number, **values)
    await DocumentEvent.insert(DocumentEvent(document=document_id, client_number=client_number_id))
    return document_id


def move_clock(monkeypatch: pytest.MonkeyPatch, to: datetime) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: to)


async def notify_and_send(settings: Any) -> None:
    await notify_due(settings)
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key="k")


def text_of(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())


async def test_a_burst_becomes_one_email_per_recipient_in_their_language(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = await factories.issuer(name="Lease Partners NV")
    number = await factories.client_number(issuer, company_name="Bakkerij Peeters")
    code = (await ClientNumber.select(ClientNumber.client_code).where(ClientNumber.id == number))[
        0
    ]["client_code"]
    main = await factories.user("marie@notice.example", language="fr", first_name="Marie")
    shared = await factories.user("jan@notice.example", language="nl")
    outsider = await factories.user("else@notice.example", language="en")
    account = await factories.account(main, number)
    await factories.shared_user(account, shared, number)
    await factories.account(outsider)
    for n in range(5):
        await publish(number, f"F-2025-{n}", issue_date=date(2025, 3, 1 + n))
    start = clock.utcnow()

    # Within the wait nothing goes out: the burst may not be over.
    move_clock(monkeypatch, start + BURST_WAIT - timedelta(seconds=30))
    await notify_and_send(settings)
    assert mailbox.to("marie@notice.example") == [] and mailbox.to("jan@notice.example") == []

    move_clock(monkeypatch, start + BURST_WAIT + timedelta(seconds=1))
    await notify_and_send(settings)
    [french] = mailbox.to("marie@notice.example")
    [dutch] = mailbox.to("jan@notice.example")
    assert mailbox.to("else@notice.example") == []
    assert french["Subject"] == translate("New documents in your invoice portal", "fr")
    assert dutch["Subject"] == translate("New documents in your invoice portal", "nl")
    assert french["Subject"] != dutch["Subject"]
    body = text_of(french)
    assert all(f"F-2025-{n}" in body for n in range(5))
    assert "Lease Partners NV" in body and code in body and "Bakkerij Peeters" in body
    assert "121,00\u00a0€" in body  # the amount as a French-speaking Belgian reads it
    assert "Facture" in body and "Marie" in body
    assert f"{settings.base_url}/documents?client_code={code}&number=F-2025-0" in body
    html = french.get_body(("html",)).get_content()
    assert f'href="{settings.base_url}/documents?client_code={code}&amp;number=F-2025-4"' in html
    assert "€" in text_of(dutch) and "Factuur" in text_of(dutch)
    assert not any(part.get_content_type() == "application/pdf" for part in french.walk())

    # Handled once: later rounds send nothing more.
    move_clock(monkeypatch, start + timedelta(hours=1))
    await notify_and_send(settings)
    assert len(mailbox.to("marie@notice.example")) == 1
    assert len(mailbox.to("jan@notice.example")) == 1


async def test_a_person_who_reaches_numbers_by_two_routes_gets_one_email(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    own, other = await factories.client_number(), await factories.client_number()
    person = await factories.user("both@notice.example", language="en")
    owner = await factories.user("owner@notice.example", language="de")
    own_account = await factories.account(person, own)
    # Main contact of `own` and also granted it as a shared user: still one person.
    await factories.shared_user(own_account, person, own)
    other_account = await factories.account(owner, other)
    await factories.shared_user(other_account, person, other)
    await publish(own, "OWN-1")
    await publish(other, "OTHER-1")
    move_clock(monkeypatch, clock.utcnow() + BURST_WAIT + timedelta(seconds=1))
    await notify_and_send(settings)
    [message] = mailbox.to("both@notice.example")
    assert "OWN-1" in text_of(message) and "OTHER-1" in text_of(message)
    [german] = mailbox.to("owner@notice.example")
    assert "OTHER-1" in text_of(german) and "OWN-1" not in text_of(german)
    assert german["Subject"] == translate("New documents in your invoice portal", "de")


async def test_who_switched_a_number_off_is_not_told_and_the_others_are(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await factories.client_number()
    main = await factories.user("quiet@notice.example")
    shared = await factories.user("told@notice.example")
    account = await factories.account(main, number)
    await factories.shared_user(account, shared, number)
    await services.switch_notices(main, number, False)
    event_document = await publish(number, "Q-1")
    await notify_due(settings, now=clock.utcnow() + BURST_WAIT + timedelta(seconds=1))
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key="k")
    assert mailbox.to("quiet@notice.example") == []
    [told] = mailbox.to("told@notice.example")
    assert "Q-1" in text_of(told)
    event = await DocumentEvent.select().where(DocumentEvent.document == event_document).first()
    assert event is not None and event["processed_at"] is not None
    # Switched on again, the next document reaches them.
    await services.switch_notices(main, number, True)
    await publish(number, "Q-2")
    await notify_due(settings, now=clock.utcnow() + 2 * BURST_WAIT)
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key="k")
    [back] = mailbox.to("quiet@notice.example")
    assert "Q-2" in text_of(back) and "Q-1" not in text_of(back)


async def test_digest_people_get_no_immediate_notice_and_keep_their_events(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = await factories.client_number()
    daily = await factories.user("daily@notice.example", notification_frequency="daily")
    weekly = await factories.user("weekly@notice.example", notification_frequency="weekly")
    now = await factories.user("now@notice.example")
    account = await factories.account(daily, number)
    await factories.shared_user(account, weekly, number)
    await factories.shared_user(account, now, number)
    document = await publish(number, "D-1", amount_excl_vat=Decimal("1000.00"))
    move_clock(monkeypatch, clock.utcnow() + BURST_WAIT + timedelta(seconds=1))
    await notify_and_send(settings)
    assert len(mailbox.to("now@notice.example")) == 1
    assert mailbox.to("daily@notice.example") == [] and mailbox.to("weekly@notice.example") == []
    # The event stays in the log, with its publication time, for the digest to read.
    assert await DocumentEvent.count().where(DocumentEvent.document == document) == 1


async def test_more_than_fifty_documents_are_summarised_with_a_link(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = await factories.client_number()
    code = (await ClientNumber.select(ClientNumber.client_code).where(ClientNumber.id == number))[
        0
    ]["client_code"]
    await factories.account(await factories.user("many@notice.example"), number)
    for n in range(51):
        await publish(number, f"M-{n:03d}")
    move_clock(monkeypatch, clock.utcnow() + BURST_WAIT + timedelta(seconds=1))
    await notify_and_send(settings)
    [message] = mailbox.to("many@notice.example")
    body = text_of(message)
    assert "M-000" not in body and "51" in body
    assert f"{settings.base_url}/documents?client_code={code}" in body


async def test_the_worker_loop_sends_notices(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = await factories.client_number()
    await factories.account(await factories.user("looped@notice.example"), number)
    await publish(number, "L-1")
    move_clock(monkeypatch, clock.utcnow() + BURST_WAIT + timedelta(seconds=1))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop, jobs=[notify_due]))
    try:
        for _ in range(100):
            if mailbox.to("looped@notice.example"):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
    [message] = mailbox.to("looped@notice.example")
    assert "L-1" in text_of(message)


EMAILS = ("first-worker@notice.example", "second-worker@notice.example")


@pytest.fixture
async def committed_burst(database: str) -> AsyncIterator[int]:
    """A number seen by two people and three documents with their events, committed
    (two workers need two connections); all removed afterwards."""
    number = await factories.client_number()
    main, shared = [await factories.user(email) for email in EMAILS]
    account = await factories.account(main, number)
    await factories.shared_user(account, shared, number)
    for n in range(3):
        await publish(number, f"W-{n}")
    connection = await asyncpg.connect(database)
    try:
        yield number
    finally:
        issuer = await connection.fetchval(
            "SELECT issuer_id FROM client_number WHERE id = $1", number
        )
        await connection.execute("DELETE FROM outbox_email WHERE recipient = ANY($1)", EMAILS)
        await connection.execute("DELETE FROM document WHERE client_number_id = $1", number)
        await connection.execute("DELETE FROM client_number WHERE id = $1", number)
        await connection.execute("DELETE FROM account WHERE id = $1", account)
        await connection.execute("DELETE FROM portal_user WHERE email = ANY($1)", EMAILS)
        await connection.execute("DELETE FROM issuer WHERE id = $1", issuer)
        await connection.close()


async def outbox_rows() -> list[str]:
    rows = await OutboxEmail.select(OutboxEmail.recipient).where(
        OutboxEmail.recipient.is_in(list(EMAILS))
    )
    return sorted(row["recipient"] for row in rows)


async def test_two_workers_claiming_at_once_never_queue_a_notice_twice(
    committed_burst: int, database: str, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    move_clock(monkeypatch, clock.utcnow() + BURST_WAIT + timedelta(seconds=1))
    # One worker holds the events in its open transaction: the other passes them by.
    holder = await asyncpg.connect(database)
    try:
        async with holder.transaction():
            numbers = await holder.fetch(
                CLAIM_NUMBERS_SQL, clock.utcnow() - BURST_WAIT, 1000, NOTICE_LOCK
            )
            held = await holder.fetch(CLAIM_SQL, [n["client_number_id"] for n in numbers])
            assert {"W-0", "W-1", "W-2"} <= await numbers_of([r["document_id"] for r in held])
            await notify_due(settings)
            assert await outbox_rows() == []
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await holder.close()
    # Both claim at the same moment, each in its own transaction: one notice each.
    await asyncio.gather(notify_due(settings), notify_due(settings))
    assert await outbox_rows() == sorted(EMAILS)
    await notify_due(settings)
    assert await outbox_rows() == sorted(EMAILS)


class _RollBack(Exception):
    """Leaves the holder's transaction without committing what it claimed."""


async def numbers_of(document_ids: list[int]) -> set[str]:
    rows = await Document.select(Document.number).where(Document.id.is_in(document_ids))
    return {row["number"] for row in rows}


async def test_a_round_takes_whole_client_numbers_so_a_burst_is_one_email(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iportal.notifications import notices

    monkeypatch.setattr(notices, "NUMBERS_PER_ROUND", 1)
    first, second = await factories.client_number(), await factories.client_number()
    person = await factories.user("rounds@notice.example", language="en")
    await factories.account(person, first)
    for n in range(7):
        await publish(first, f"R-1-{n}")
    for n in range(4):
        await publish(second, f"R-2-{n}")
    move_clock(monkeypatch, clock.utcnow() + BURST_WAIT + timedelta(seconds=1))

    # One number a round, each with all its events, the longest waiting first.
    assert [await notify_due(settings) for _ in range(3)] == [7, 4, 0]
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key="k")
    [notice] = mailbox.to("rounds@notice.example")
    assert all(f"R-1-{n}" in text_of(notice) for n in range(7))
