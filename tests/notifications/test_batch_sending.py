"""A claimed batch goes over one SMTP connection, its results recorded together, and
notices are written straight to bytes that read back as the `email` package's."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from typing import Any

import asyncpg
from aiosmtpd.controller import Controller

from iportal.notifications import services
from iportal.notifications.encoding import encode_message
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.tables import OutboxEmail
from tests.conftest import Mailbox, free_port

SENDER = "noreply@iportal.localhost"


class CountingServer(Mailbox):
    """Takes every message and counts the connections they came over."""

    def __init__(self) -> None:
        super().__init__()
        self.connections = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses


class DroppingServer(CountingServer):
    """Refuses one address with 550 (the connection stays); once, closes a connection
    that has carried a message when the next one begins (as a server does with a
    connection that waited too long)."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 No such mailbox"
        if not self.dropped and getattr(session, "carried", 0) > 0:
            self.dropped = True
            server.transport.close()
            return "421 closing"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        session.carried = getattr(session, "carried", 0) + 1
        return await super().handle_DATA(server, session, envelope)


async def test_a_batch_goes_over_one_connection_and_every_result_is_recorded(
    transaction: Any, settings: Any
) -> None:
    server, port = CountingServer(), free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        queued = [
            await services.queue_email(
                "mail_check", f"reader{n}@example.test", "nl", {"base_url": "http://x"}
            )
            for n in range(5)
        ]
        mailer = SmtpMailer(dataclasses.replace(settings, smtp_port=port))
        outcome = await services.deliver_due(mailer, SENDER, key="k")
    finally:
        controller.stop()
    assert outcome == {"sent": 5, "failed": 0, "retry": 0, "held": 0}
    assert server.connections == 1
    assert sorted(str(m["To"]) for m in server.messages) == [
        f"reader{n}@example.test" for n in range(5)
    ]
    rows = await OutboxEmail.select(OutboxEmail.state).where(OutboxEmail.id.is_in(queued))
    assert [row["state"] for row in rows] == ["sent"] * 5


async def test_a_refused_address_and_a_dropped_connection_do_not_stop_the_batch(
    transaction: Any, settings: Any
) -> None:
    server, port = DroppingServer(), free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        ids = {
            name: await services.queue_email(
                "mail_check", f"{name}@example.test", "en", {"base_url": "http://x"}
            )
            for name in ("anne", "refused", "bart", "chris")
        }
        mailer = SmtpMailer(dataclasses.replace(settings, smtp_port=port), timeout=5)
        outcome = await services.deliver_due(mailer, SENDER, key="k")
    finally:
        controller.stop()
    # The dropped connection is opened again once and the message goes through it.
    assert server.dropped
    assert outcome == {"sent": 3, "failed": 1, "retry": 0, "held": 0}
    assert server.connections == 2
    assert sorted(str(m["To"]) for m in server.messages) == [
        "anne@example.test",
        "bart@example.test",
        "chris@example.test",
    ]
    refused = await OutboxEmail.select().where(OutboxEmail.id == ids["refused"]).first()
    assert refused is not None and refused["state"] == "failed"
    assert "No such mailbox" in refused["last_error"]


def test_an_encoded_notice_reads_back_like_one_built_by_the_email_package() -> None:
    row = services.OutboxMessage(
        id=7,
        recipient="anne@example.test",
        language="fr",
        subject="Nouveaux documents – été =?déjà?=",
        body_text="Bonjour Anne,\n\n.un point\nF2026 = 121,00 €  \n",
        body_html="<p>Bonjour Anne, 121,00 €</p>\n",
        list_unsubscribe="https://portal.example/unsubscribe?c=abc",
        attempts=1,
        created_at=datetime(2026, 12, 6, tzinfo=UTC),
    )
    built = services.build_message(row, SENDER, "k")
    encoded = encode_message(
        message_id=services.message_id(row.id, SENDER, "k"),
        sender=SENDER,
        recipient=row.recipient,
        subject=row.subject,
        language=row.language,
        date=str(built["Date"]),
        body_text=row.body_text,
        body_html=row.body_html,
        list_unsubscribe=row.list_unsubscribe,
    )
    assert encoded is not None
    parsed = BytesParser(policy=policy.default).parsebytes(encoded.replace(b"\r\n", b"\n"))
    for header in (
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Date",
        "Auto-Submitted",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Content-Language",
    ):
        assert parsed[header] == built[header], header
    for subtype in ("plain", "html"):
        assert parsed.get_body((subtype,)).get_content() == built.get_body((subtype,)).get_content()


def test_what_only_the_email_package_can_write_is_declined() -> None:
    common = {
        "message_id": "<outbox-1.x@example.test>",
        "sender": SENDER,
        "subject": "s",
        "language": "en",
        "date": "Sun, 06 Dec 2026 06:00:00 +0000",
        "body_text": "t",
    }
    assert encode_message(recipient="andré@exämple.test", **common) is None
    assert encode_message(recipient="a@example.test\r\nBcc: x@evil.test", **common) is None
    plain = encode_message(recipient="a@example.test", **common)
    assert plain is not None
    # As the server stores it, its lines ended as the system's.
    parsed = BytesParser(policy=policy.default).parsebytes(plain.replace(b"\r\n", b"\n"))
    assert not parsed.is_multipart() and parsed.get_content() == "t\n"


class CheckingServer(Mailbox):
    """Before taking each message, reads from the database how many of the batch are
    recorded as sent: all that it took before, so at most one is ever in doubt. Each
    message's row is then locked for a moment, so that recording it is slower than
    the next envelope: a worker that did not wait would hand the next one over early."""

    def __init__(self, database: str, ids: list[int]) -> None:
        super().__init__()
        self.database, self.ids = database, ids
        self.recorded_before: list[int] = []
        self.holds: list[asyncio.Task[None]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        connection = await asyncpg.connect(self.database)
        sent = await connection.fetchval(
            "SELECT count(*) FROM outbox_email WHERE id = ANY($1::bigint[]) AND state = 'sent'",
            self.ids,
        )
        self.recorded_before.append(sent)
        answer = await super().handle_DATA(server, session, envelope)
        found = re.search(r"<outbox-(\d+)\.", str(self.messages[-1]["Message-ID"]))
        assert found is not None
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute(
            "SELECT 1 FROM outbox_email WHERE id = $1 FOR UPDATE", int(found.group(1))
        )
        self.holds.append(asyncio.create_task(self._release(connection, transaction)))
        return answer

    @staticmethod
    async def _release(connection: asyncpg.Connection, transaction: Any) -> None:
        await asyncio.sleep(0.2)
        await transaction.rollback()
        await connection.close()


async def test_each_message_is_recorded_before_the_next_one_is_handed_over(
    database: str, settings: Any
) -> None:
    ids = [
        await services.queue_email(
            "mail_check", f"in-doubt{n}@example.test", "en", {"base_url": "http://x"}
        )
        for n in range(5)
    ]
    server, port = CheckingServer(database, ids), free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = SmtpMailer(dataclasses.replace(settings, smtp_port=port))
        outcome = await services.deliver_due(mailer, SENDER, key="k")
    finally:
        controller.stop()
        connection = await asyncpg.connect(database)
        try:
            await connection.execute("DELETE FROM outbox_email WHERE id = ANY($1::bigint[])", ids)
        finally:
            await connection.close()
    assert outcome["sent"] == len(ids)
    assert server.recorded_before == list(range(len(ids)))
