"""The outbox: e-mails queued with the change that causes them, sent by the worker
over real SMTP, retried when the server is away, given up when the address is refused."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from iportal import clock
from iportal.i18n import translate
from iportal.notifications import services
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.tables import OutboxEmail
from tests.conftest import Mailbox, free_port

SENDER = "noreply@iportal.localhost"


async def state_of(outbox_id: int) -> dict[str, Any]:
    row = await OutboxEmail.select().where(OutboxEmail.id == outbox_id).first()
    assert row is not None
    return row


async def test_a_queued_email_is_sent_in_the_recipients_language(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    queued = await services.queue_email(
        "mail_check", "marie@dubois.example", "fr", {"base_url": "https://portal.example"}
    )
    outcome = await services.deliver_due(SmtpMailer(settings), SENDER)
    assert outcome == {"sent": 1, "failed": 0, "retry": 0, "held": 0}
    [message] = mailbox.to("marie@dubois.example")
    assert message["Subject"] == translate("iportal: test message", "fr")
    assert message["Subject"] != "iportal: test message"
    assert message["From"] == SENDER
    assert message["Content-Language"] == "fr"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "https://portal.example" in text and 'href="https://portal.example"' in html
    row = await state_of(queued)
    assert row["state"] == "sent" and row["sent_at"] is not None
    # Sent once: a second round finds nothing due.
    assert await services.deliver_due(SmtpMailer(settings), SENDER) == {
        "sent": 0,
        "failed": 0,
        "retry": 0,
        "held": 0,
    }


async def test_rendering_many_emails_lets_other_tasks_run_in_between(
    transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker renders its next round of notices while it sends: the mail server's
    answers must not wait until the whole round is rendered."""
    happened: list[str] = []
    render = services.render_email

    def render_and_note(*args: Any) -> services.RenderedEmail:
        happened.append("render")
        return render(*args)

    monkeypatch.setattr(services, "render_email", render_and_note)
    emails = [
        services.EmailToQueue("mail_check", f"p{n}@turns.example", "en", {"base_url": "x"})
        for n in range(20)
    ]
    rendering = asyncio.create_task(services.queue_emails(emails))

    async def other_task() -> None:
        while not rendering.done():
            happened.append("other")
            await asyncio.sleep(0)

    other = asyncio.create_task(other_task())
    assert len(await rendering) == 20
    await other
    renders = [i for i, what in enumerate(happened) if what == "render"]
    assert len(renders) == 20
    # The other task ran between every two e-mails, not only once all were rendered.
    assert all(later - earlier > 1 for earlier, later in itertools.pairwise(renders))


async def test_html_in_the_context_is_escaped(transaction: Any) -> None:
    rendered = services.render_email("mail_check", "en", {"base_url": '"><script>x</script>'})
    assert "<script>" not in rendered.body_html
    assert "&lt;script&gt;" in rendered.body_html


async def test_a_server_that_is_away_means_try_again_later(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    import dataclasses

    nowhere = dataclasses.replace(settings, smtp_port=free_port())
    queued = await services.queue_email(
        "mail_check", "jonas@example.be", "nl", {"base_url": "http://x"}
    )
    outcome = await services.deliver_due(SmtpMailer(nowhere, timeout=5), SENDER)
    assert outcome["retry"] == 1
    row = await state_of(queued)
    assert row["state"] == "pending" and row["attempts"] == 1 and row["last_error"]
    assert row["next_attempt_at"] > clock.utcnow() + timedelta(seconds=30)
    # Not due yet: the worker leaves it alone until its time comes.
    assert (await services.deliver_due(SmtpMailer(settings), SENDER))["sent"] == 0
    assert mailbox.messages == []


async def test_it_is_sent_when_its_time_comes(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    nowhere = dataclasses.replace(settings, smtp_port=free_port())
    queued = await services.queue_email(
        "mail_check", "jonas@example.be", "nl", {"base_url": "http://x"}
    )
    await services.deliver_due(SmtpMailer(nowhere, timeout=5), SENDER)
    later = clock.utcnow() + timedelta(minutes=10)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    assert (await services.deliver_due(SmtpMailer(settings), SENDER))["sent"] == 1
    assert len(mailbox.to("jonas@example.be")) == 1
    assert (await state_of(queued))["attempts"] == 2


class RefusingHandler:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        return "550 5.1.1 No such mailbox"


async def test_an_address_the_server_refuses_is_not_retried(
    transaction: Any, settings: Any
) -> None:
    import dataclasses

    port = free_port()
    controller = Controller(RefusingHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        queued = await services.queue_email(
            "mail_check", "gone@example.test", "en", {"base_url": "http://x"}
        )
        refusing = dataclasses.replace(settings, smtp_port=port)
        outcome = await services.deliver_due(SmtpMailer(refusing), SENDER)
    finally:
        controller.stop()
    assert outcome["failed"] == 1
    row = await state_of(queued)
    assert row["state"] == "failed"
    assert "No such mailbox" in row["last_error"]
    assert await services.retry_failed(queued)
    assert (await state_of(queued))["state"] == "pending"


def test_retry_delays_grow_then_stay_hourly() -> None:
    delays = [services.retry_delay(n) for n in range(1, 12)]
    assert delays[:5] == [timedelta(minutes=m) for m in (1, 5, 15, 30, 60)]
    assert delays == sorted(delays)
    assert set(delays[4:]) == {timedelta(hours=1)}


async def test_every_email_has_a_date_auto_submitted_and_a_stable_message_id(
    transaction: Any, settings: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = await services.queue_email(
        "mail_check", "stable@example.test", "en", {"base_url": "http://x"}
    )
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key="k")
    # A worker killed after the server took the message: its lease runs out and the
    # message is sent again, under the same Message-ID so the reader's client sees one.
    await OutboxEmail.update(
        {OutboxEmail.state: "pending", OutboxEmail.next_attempt_at: clock.utcnow()}
    ).where(OutboxEmail.id == queued)
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key="k")
    first, again = mailbox.to("stable@example.test")
    domain = settings.mail_from.rpartition("@")[2]
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"].startswith(f"<outbox-{queued}.")
    assert first["Message-ID"].endswith(f"@{domain}>")
    assert first["Message-ID"] != services.message_id(queued, settings.mail_from, key="other")
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["Date"] is not None and first["Date"].datetime is not None
