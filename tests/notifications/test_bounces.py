"""Bounces that arrive later: a delivery status notification (RFC 3464) sent to the
worker's listener on the message's signed return path fails that message and marks
its address; the person sees it on every page and in their profile, their main
contact on the shared users' list. Reports of 4.x.x, forged or unknown ids, and junk
change nothing. A real SMTP client talks to the real listener (aiosmtpd)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import aiosmtplib
import httpx
import pytest

from iportal.i18n import using_language
from iportal.notifications import services
from iportal.notifications.bounces import parse_report, return_path
from iportal.notifications.listener import MAX_REPORT_BYTES, start_listener
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.problems import delivery_problem
from iportal.notifications.tables import DeliveryReport, OutboxEmail
from iportal.sharing import shared_users
from iportal.templating import environment
from tests import factories
from tests.accounts.security_support import logged_in
from tests.conftest import Mailbox, free_port
from tests.helpers import csrf_from

KEY = "test-secret-key-" + "x" * 32  # the settings fixture's


def report(
    to: str, final_recipient: str, status: str, action: str = "failed", diagnostic: str = ""
) -> bytes:
    """A delivery status notification as a mail server writes it."""
    diagnostic = diagnostic or f"smtp; 550 {status} <{final_recipient}>: User unknown"
    return f"""From: MAILER-DAEMON@mx.example
To: {to}
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"

--B0UND
Content-Type: text/plain

This is the mail system at host mx.example. Your message could not be delivered.

--B0UND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example
Arrival-Date: Sun, 6 Dec 2026 05:00:00 +0000

Final-Recipient: rfc822; {final_recipient}
Original-Recipient: rfc822;{final_recipient}
Action: {action}
Status: {status}
Diagnostic-Code: {diagnostic}

--B0UND
Content-Type: text/rfc822-headers

From: noreply@iportal.localhost
Subject: iportal: test message

--B0UND--
""".replace("\n", "\r\n").encode()


@pytest.fixture
async def listening(settings: Any, transaction: Any) -> AsyncIterator[Any]:
    """The worker's bounce listener, on a port of its own, inside the test's transaction."""
    with_listener = dataclasses.replace(settings, bounce_listen=("127.0.0.1", free_port()))
    server = await start_listener(with_listener)
    assert server is not None
    yield with_listener
    server.close()
    await server.wait_closed()


async def bounce(settings: Any, recipient: str, raw: bytes) -> None:
    host, port = settings.bounce_listen
    await aiosmtplib.send(
        raw, sender="MAILER-DAEMON@mx.example", recipients=[recipient], hostname=host, port=port
    )


async def sent_to(settings: Any, address: str, user_id: int | None = None) -> int:
    """Queue a message and send it over the test SMTP server; its outbox id."""
    outbox_id = await services.queue_email(
        "mail_check", address, "en", {"base_url": "http://x"}, user_id=user_id
    )
    outcome = await services.deliver_due(
        SmtpMailer(settings), settings.mail_from, key=settings.secret_key
    )
    assert outcome["sent"] == 1
    return outbox_id


async def state_of(outbox_id: int) -> str:
    row = await OutboxEmail.select(OutboxEmail.state).where(OutboxEmail.id == outbox_id).first()
    assert row is not None
    return str(row["state"])


async def test_a_permanent_bounce_marks_the_row_and_the_person_sees_it(
    client: httpx.AsyncClient, listening: Any, mailbox: Mailbox
) -> None:
    anna = await factories.user("anna@bounce.example", first_name="Anna", language="nl")
    outbox_id = await sent_to(listening, "anna@bounce.example", anna)
    [message] = mailbox.to("anna@bounce.example")
    return_address = mailbox.sender_of(message)
    assert return_address == return_path(outbox_id, "iportal.localhost", KEY)

    await bounce(listening, return_address, report(return_address, "anna@bounce.example", "5.1.1"))

    assert await state_of(outbox_id) == "failed"
    problem = await delivery_problem("anna@bounce.example")
    assert problem is not None and problem.kind == "bounced"
    assert "5.1.1" in problem.detail
    [kept] = await DeliveryReport.select().where(DeliveryReport.outbox_email == outbox_id)
    assert (kept["status"], kept["action"], kept["permanent"]) == ("5.1.1", "failed", True)
    assert kept["final_recipient"] == "anna@bounce.example"

    # The person sees it on their next page, in their language, and in their profile.
    csrf = await logged_in(client, "anna@bounce.example")
    documents = await client.get("/documents")
    assert 'id="delivery-banner"' in documents.text
    assert "E-mails aan anna@bounce.example komen niet aan." in documents.text
    profile = await client.get("/me")
    assert 'id="delivery-problem"' in profile.text
    assert "Onze e-mail aan anna@bounce.example kwam onbestelbaar terug." in profile.text
    assert "Is de mailbox vol?" in profile.text
    # Later messages to the address are held, not sent.
    held = await services.queue_email(
        "mail_check", "anna@bounce.example", "nl", {"base_url": "http://x"}, user_id=anna
    )
    outcome = await services.deliver_due(SmtpMailer(listening), listening.mail_from, key=KEY)
    assert outcome["held"] == 1 and await state_of(held) == "held"
    # "My address is right": the banner goes, the held and the bounced one are sent.
    confirmed = await client.post(
        "/me/email/confirm", data={"csrf_token": csrf_from(profile.text)}, headers=csrf
    )
    assert confirmed.status_code == 200
    assert 'id="address-confirmed"' in confirmed.text
    assert 'id="delivery-banner"' not in confirmed.text
    assert 'id="delivery-banner"' not in (await client.get("/documents")).text
    assert await delivery_problem("anna@bounce.example") is None
    outcome = await services.deliver_due(SmtpMailer(listening), listening.mail_from, key=KEY)
    assert outcome["sent"] == 2
    assert len(mailbox.to("anna@bounce.example")) == 3


async def test_a_delayed_report_is_kept_but_marks_nothing(listening: Any, mailbox: Mailbox) -> None:
    outbox_id = await sent_to(listening, "slow@bounce.example")
    return_address = mailbox.sender_of(mailbox.to("slow@bounce.example")[0])
    delayed = report(
        return_address, "slow@bounce.example", "4.2.2", "delayed", "smtp; 452 4.2.2 Mailbox full"
    )
    await bounce(listening, return_address, delayed)
    assert await state_of(outbox_id) == "sent"
    assert await delivery_problem("slow@bounce.example") is None
    [kept] = await DeliveryReport.select().where(DeliveryReport.outbox_email == outbox_id)
    assert (kept["status"], kept["permanent"]) == ("4.2.2", False)


async def test_a_forged_or_unknown_return_path_marks_nobody(
    listening: Any, mailbox: Mailbox
) -> None:
    outbox_id = await sent_to(listening, "victim@bounce.example")
    real = mailbox.sender_of(mailbox.to("victim@bounce.example")[0])
    local, domain = real.split("@")
    signature = local.rpartition("-")[2]
    forged = [
        f"bounce+{outbox_id}-{'0' * len(signature)}@{domain}",  # guessed signature
        f"bounce+{outbox_id}@{domain}",  # none at all
        f"bounce+{outbox_id + 1}-{signature}@{domain}",  # another id with this one's
        return_path(outbox_id, domain, "another-installation-key"),
        return_path(outbox_id + 10_000, domain, KEY),  # signed, but no such message
        "postmaster@iportal.localhost",
    ]
    for address in forged:
        await bounce(listening, address, report(address, "victim@bounce.example", "5.1.1"))
    assert await state_of(outbox_id) == "sent"
    assert await delivery_problem("victim@bounce.example") is None
    assert await DeliveryReport.count() == 0


async def test_junk_is_taken_and_ignored_and_a_huge_message_refused(
    listening: Any, mailbox: Mailbox
) -> None:
    outbox_id = await sent_to(listening, "junk@bounce.example")
    real = mailbox.sender_of(mailbox.to("junk@bounce.example")[0])
    for junk in (
        b"Subject: hello\r\n\r\nnot a report\r\n",
        b"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\n\x00\xff\xfe--x",
        report(real, "junk@bounce.example", "9.9.9"),
        report(real, "junk@bounce.example", "5.1.1").replace(b"Status: 5.1.1", b"Status: soon"),
    ):
        await bounce(listening, real, junk)  # 250: nobody retries junk
    assert await state_of(outbox_id) == "sent"
    assert await DeliveryReport.count() == 0
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await bounce(listening, real, b"Subject: big\r\n\r\n" + b"x" * (MAX_REPORT_BYTES + 10))
    assert refused.value.code == 552
    assert parse_report(b"\x00" * 100) == []


async def test_the_main_contact_sees_which_shared_users_do_not_get_e_mail(
    client: httpx.AsyncClient, listening: Any, mailbox: Mailbox
) -> None:
    number = await factories.client_number()
    main = await factories.user("main@company.example")
    account = await factories.account(main, number)
    luc = await factories.user("luc@accountants.example")
    await factories.shared_user(account, luc, number)
    await factories.shared_user(account, await factories.user("fine@accountants.example"))
    await sent_to(listening, "luc@accountants.example", luc)
    return_address = mailbox.sender_of(mailbox.to("luc@accountants.example")[0])
    await bounce(listening, return_address, report(return_address, "luc@x.example", "5.2.1"))

    await logged_in(client, "main@company.example")
    items = (await client.get("/api/v1/shared-users")).json()["items"]
    problems = {item["email"]: item["delivery_problem"] for item in items}
    assert problems["fine@accountants.example"] is None
    assert problems["luc@accountants.example"]["kind"] == "bounced"
    assert problems["luc@accountants.example"]["since"]
    # The partial the shared users' page includes, for one with and one without.
    partial = environment().get_template("sharing/_delivery_problem.html")
    by_email = {found.email: found for found in await shared_users.list_shared_users(main)}
    with using_language("fr"):
        shown = partial.render(shared=by_email["luc@accountants.example"])
    assert "Les e-mails à cette personne n'arrivent pas" in shown.replace("&#39;", "'")
    assert partial.render(shared=by_email["fine@accountants.example"]).strip() == ""
    # The page of shared users says it beside that person only.
    page = (await client.get("/shared-users")).text
    assert page.count('class="problem"') == 1 and 'id="delivery-problem-' in page
