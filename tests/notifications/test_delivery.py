"""Delivery over a mail server that is sometimes away or says no: transient failures
are retried with growing delays for five days and then become a delivery problem; a
refused address holds its messages until the person confirms it; every message
carries a signed return path. Real SMTP servers (aiosmtpd), time moved by the clock."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from iportal import clock
from iportal.notifications import services
from iportal.notifications.bounces import outbox_id_of, return_path
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.notices import BURST_WAIT, notify_due
from iportal.notifications.problems import RETRY_FOR, confirm_address, delivery_problem
from iportal.notifications.tables import DocumentEvent, OutboxEmail
from tests import factories
from tests.conftest import Mailbox, free_port

KEY = "k" * 40


async def row_of(outbox_id: int) -> dict[str, Any]:
    row = await OutboxEmail.select().where(OutboxEmail.id == outbox_id).first()
    assert row is not None
    return row


async def queue(address: str) -> int:
    return await services.queue_email("mail_check", address, "en", {"base_url": "http://x"})


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: moment)


@pytest.fixture
def away(settings: Any) -> Iterator[tuple[Any, int]]:
    """Settings whose mail server is not there (yet): nothing listens on its port."""
    port = free_port()
    yield dataclasses.replace(settings, smtp_port=port), port


async def deliver(settings: Any) -> dict[str, int]:
    return await services.deliver_due(SmtpMailer(settings, timeout=5), settings.mail_from, key=KEY)


async def test_a_server_away_for_a_while_then_back_loses_nothing_and_sends_nothing_twice(
    transaction: Any, away: tuple[Any, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, port = away
    addresses = [f"reader{n}@down.example" for n in range(5)]
    ids = [await queue(address) for address in addresses]
    start = clock.utcnow()
    # Three rounds while it is away: each message waits longer after each failure.
    moment = start
    for expected_wait in (1, 5, 15):
        at(monkeypatch, moment)
        assert (await deliver(settings))["retry"] == 5
        rows = [await row_of(i) for i in ids]
        assert {r["state"] for r in rows} == {"pending"}
        assert {r["next_attempt_at"] - moment for r in rows} == {timedelta(minutes=expected_wait)}
        moment += timedelta(minutes=expected_wait)
    # Back, on the same port: everything goes out, once.
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        at(monkeypatch, moment)
        assert (await deliver(settings))["sent"] == 5
        at(monkeypatch, moment + timedelta(hours=6))
        assert await deliver(settings) == {"sent": 0, "failed": 0, "retry": 0, "held": 0}
    finally:
        controller.stop()
    assert sorted(str(m["To"]) for m in mailbox.messages) == addresses
    assert len({m["Message-ID"] for m in mailbox.messages}) == 5
    assert [(await row_of(i))["state"] for i in ids] == ["sent"] * 5
    assert [(await row_of(i))["attempts"] for i in ids] == [4] * 5


PEOPLE, ROUNDS = 100, 10  # 1,000 notices


async def deliver_all(settings: Any) -> dict[str, int]:
    """Rounds of `deliver_due` (50 at a time) until nothing more is due now."""
    total = {"sent": 0, "failed": 0, "retry": 0, "held": 0}
    while True:
        outcome = await deliver(settings)
        total = {state: total[state] + outcome[state] for state in total}
        if not any(outcome.values()):
            return total


async def test_a_thousand_notices_made_while_the_server_is_stopped_each_arrive_once(
    transaction: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    on_port = dataclasses.replace(settings, smtp_port=port)
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:  # the server takes mail, then stops
        await queue("before@fault.example")
        assert (await deliver(on_port))["sent"] == 1
    finally:
        controller.stop()
    mailbox.clear()

    issuer = await factories.issuer()
    numbers = []
    for n in range(PEOPLE):
        number = await factories.client_number(issuer)
        person = await factories.user(f"person{n:03d}@fault.example", language="en")
        await factories.account(person, number)
        numbers.append(number)
    # Ten bursts of publishing, each a notice to every person: 1,000 in the outbox.
    moment = clock.utcnow()
    for burst in range(ROUNDS):
        for n, number in enumerate(numbers):
            document = await factories.document(number, number=f"N-{n:03d}-{burst}")
            await DocumentEvent.insert(DocumentEvent(document=document, client_number=number))
        moment += BURST_WAIT + timedelta(seconds=1)
        assert await notify_due(on_port, now=moment) == PEOPLE
    ids = [
        row["id"]
        for row in await OutboxEmail.select(OutboxEmail.id).where(
            OutboxEmail.recipient.like("%@fault.example"), OutboxEmail.state == "pending"
        )
    ]
    assert len(ids) == PEOPLE * ROUNDS

    # While it is stopped every attempt fails and is postponed, nothing is given up.
    for wait in (1, 5):
        at(monkeypatch, moment)
        outcome = await deliver_all(on_port)
        assert outcome == {"sent": 0, "failed": 0, "retry": PEOPLE * ROUNDS, "held": 0}
        moment += timedelta(minutes=wait)
    # Back on the same port: every notice goes out, and later rounds send nothing.
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        at(monkeypatch, moment)
        assert (await deliver_all(on_port))["sent"] == PEOPLE * ROUNDS
        at(monkeypatch, moment + timedelta(days=6))
        assert await deliver_all(on_port) == {"sent": 0, "failed": 0, "retry": 0, "held": 0}
    finally:
        controller.stop()
    received = [(str(m["Message-ID"]), str(m["To"])) for m in mailbox.messages]
    assert len(received) == len(set(received)) == PEOPLE * ROUNDS
    assert {message_id for message_id, _ in received} == {
        services.message_id(i, settings.mail_from, KEY) for i in ids
    }
    # Each person got one notice per burst, each naming that burst's document.
    listed: dict[str, list[str]] = {}
    for (_, to), message in zip(received, mailbox.messages, strict=True):
        body = message.get_body(("plain",)).get_content()
        listed.setdefault(to, []).extend(set(re.findall(r"N-\d{3}-\d", body)))
    assert {to: sorted(numbers) for to, numbers in listed.items()} == {
        f"person{n:03d}@fault.example": [f"N-{n:03d}-{burst}" for burst in range(ROUNDS)]
        for n in range(PEOPLE)
    }
    rows = await OutboxEmail.select(OutboxEmail.state, OutboxEmail.attempts).where(
        OutboxEmail.id.is_in(ids)
    )
    assert {(row["state"], row["attempts"]) for row in rows} == {("sent", 3)}


async def test_transient_failures_are_retried_for_five_days_then_the_address_has_a_problem(
    transaction: Any, away: tuple[Any, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _ = away
    outbox_id = await queue("far@away.example")
    created = (await row_of(outbox_id))["created_at"]
    moment, waits = created, []
    for _ in range(200):
        at(monkeypatch, moment)
        outcome = await deliver(settings)
        row = await row_of(outbox_id)
        if outcome["failed"]:
            break
        assert outcome["retry"] == 1
        waits.append(row["next_attempt_at"] - moment)
        moment = row["next_attempt_at"]
    assert row["state"] == "failed"
    # 1, 5, 15, 30, 60 minutes, then hourly; the last attempt on the fifth day itself.
    assert waits[:5] == [timedelta(minutes=m) for m in (1, 5, 15, 30, 60)]
    assert set(waits[5:-1]) == {timedelta(hours=1)}
    assert moment == created + RETRY_FOR
    assert row["attempts"] == len(waits) + 1
    problem = await delivery_problem("FAR@away.example")
    assert problem is not None and problem.kind == "expired" and not problem.permanent
    # An expired problem holds nothing: the next message is tried, and once one gets
    # through the problem is gone.
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=settings.smtp_port)
    controller.start()
    try:
        await queue("far@away.example")
        at(monkeypatch, moment + timedelta(minutes=1))
        assert (await deliver(settings))["sent"] == 1
    finally:
        controller.stop()
    assert await delivery_problem("far@away.example") is None


class RefusingHandler:
    """A mail server that knows no such mailbox (550 at RCPT)."""

    def __init__(self) -> None:
        self.tried: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self.tried.append(address)
        return "550 5.1.1 No such mailbox"


async def test_a_refused_address_holds_its_messages_until_the_person_confirms_it(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    refusing, port = RefusingHandler(), free_port()
    controller = Controller(refusing, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        on_refusing = dataclasses.replace(settings, smtp_port=port)
        first = await queue("gone@refused.example")
        assert (await deliver(on_refusing))["failed"] == 1
        second = await queue("Gone@Refused.example")
        assert await deliver(on_refusing) == {"sent": 0, "failed": 0, "retry": 0, "held": 1}
    finally:
        controller.stop()
    assert refusing.tried == ["gone@refused.example"]  # the second was never attempted
    problem = await delivery_problem("gone@refused.example")
    assert problem is not None and problem.kind == "refused" and problem.permanent
    assert "No such mailbox" in problem.detail
    assert (await row_of(first))["state"] == "failed"
    held = await row_of(second)
    assert held["state"] == "held" and held["attempts"] == 0 and "held" in held["last_error"]
    # Nothing is sent while it is held, on any server.
    assert (await deliver(settings))["sent"] == 0
    # "My address is right": the problem goes, both are sent (once) on the good server.
    assert await confirm_address("gone@refused.example") == 2
    assert await delivery_problem("gone@refused.example") is None
    assert (await deliver(settings))["sent"] == 2
    assert len(mailbox.to("efused.example")) == 2
    assert (await deliver(settings))["sent"] == 0


async def test_every_message_has_its_own_signed_return_path(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    ids = [await queue(f"verp{n}@example.test") for n in range(2)]
    await services.deliver_due(
        SmtpMailer(settings), settings.mail_from, key=KEY, bounce_domain="bounces.example"
    )
    senders = [mailbox.sender_of(mailbox.to(f"verp{n}@example.test")[0]) for n in range(2)]
    assert senders == [return_path(i, "bounces.example", KEY) for i in ids]
    assert senders[0].startswith(f"bounce+{ids[0]}-") and senders[0] != senders[1]
    assert [outbox_id_of(s, KEY) for s in senders] == ids
    assert outbox_id_of(senders[0].upper(), KEY) == ids[0]  # a server may change the case
    # A signature of another id, another key, or none at all names nothing.
    signature = senders[1].split("-", 1)[1]
    assert outbox_id_of(f"bounce+{ids[0]}-{signature}", KEY) is None
    assert outbox_id_of(senders[0], "another-key") is None
    assert outbox_id_of(f"bounce+{ids[0]}@bounces.example", KEY) is None
    # Without a bounce domain, the sender's.
    await queue("verp-default@example.test")
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key=KEY)
    [message] = mailbox.to("verp-default@example.test")
    assert mailbox.sender_of(message).endswith("@" + settings.mail_from.rpartition("@")[2])
