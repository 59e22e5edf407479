"""Digests: people on a daily or weekly rhythm get one e-mail at the digest time
(07:00 in Brussels; weekly on Mondays) listing every number's new documents since
their last one, in their language, and none when nothing is new; over the real SMTP
server, with the time moved forward by `now=`, never slept."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from iportal import clock
from iportal.accounts.tables import PortalUser
from iportal.i18n import translate
from iportal.notifications import services
from iportal.notifications.digests import last_digest_times, send_digests
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.notices import BURST_WAIT, notify_due
from iportal.notifications.tables import NoticeDigest
from iportal.sharing.tables import Grant
from tests import factories
from tests.conftest import Mailbox
from tests.notifications.test_notices import publish, text_of

BRUSSELS = ZoneInfo("Europe/Brussels")
DAILY = "Your daily summary of new documents in your invoice portal"
WEEKLY = "Your weekly summary of new documents in your invoice portal"


def local(day: datetime, hour: int, minute: int = 0) -> datetime:
    """That day's hour in Brussels, in UTC."""
    return datetime.combine(day.date(), time(hour, minute), tzinfo=BRUSSELS).astimezone(UTC)


def next_tuesday() -> datetime:
    """Noon in Brussels on a Tuesday at least a day after the events' creation time."""
    day = clock.utcnow().astimezone(BRUSSELS) + timedelta(days=1)
    day += timedelta(days=(1 - day.weekday()) % 7)
    return local(day, 12)


async def deliver(settings: Any) -> None:
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key="k")


async def digests_at(settings: Any, when: datetime) -> int:
    served = await send_digests(settings, now=when)
    await deliver(settings)
    return served


def numbers_in(message: EmailMessage) -> set[str]:
    body = text_of(message)
    return {n for n in ("A-1", "A-2", "B-1", "B-2") if n in body}


async def test_daily_and_weekly_digests_list_all_numbers_once_at_their_time(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    a = await factories.client_number(company_name="Alpha BV")
    b = await factories.client_number(company_name="Beta BV")
    daily = await factories.user(
        "daily@digest.example", language="nl", notification_frequency="daily"
    )
    weekly = await factories.user(
        "weekly@digest.example", language="de", notification_frequency="weekly"
    )
    await factories.user("nobody@digest.example", notification_frequency="daily")
    at_once = await factories.user("now@digest.example", language="en")
    account = await factories.account(daily, a, b)
    await factories.shared_user(account, weekly, a)
    await factories.shared_user(account, at_once, a)
    tuesday = next_tuesday()
    wednesday, thursday = tuesday + timedelta(days=1), tuesday + timedelta(days=2)
    friday, monday = tuesday + timedelta(days=3), tuesday + timedelta(days=6)

    await publish(a, "A-1")
    await publish(b, "B-1")
    await notify_due(settings, now=tuesday)
    await deliver(settings)
    [immediate] = mailbox.to("now@digest.example")
    assert numbers_in(immediate) == {"A-1"}
    assert mailbox.to("daily@digest.example") == mailbox.to("weekly@digest.example") == []

    # Before Wednesday 07:00 in Brussels, nothing; at 07:00 one digest with both numbers.
    assert await digests_at(settings, tuesday + timedelta(hours=1)) == 0
    assert await digests_at(settings, local(wednesday, 6, 59)) == 0
    assert mailbox.to("daily@digest.example") == []
    assert await digests_at(settings, local(wednesday, 7)) == 1
    [first] = mailbox.to("daily@digest.example")
    assert first["Subject"] == translate(DAILY, "nl") != DAILY
    assert numbers_in(first) == {"A-1", "B-1"}
    body = text_of(first)
    assert "Alpha BV" in body and "Beta BV" in body and "Factuur" in body
    assert first["List-Unsubscribe"].strip().startswith(f"<{settings.base_url}/unsubscribe/")
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not any(part.get_content_type() == "application/pdf" for part in first.walk())
    # One a day: later the same day, and the next day with nothing new, none.
    assert await digests_at(settings, local(wednesday, 7, 5)) == 0
    assert await digests_at(settings, local(thursday, 7)) == 0
    assert len(mailbox.to("daily@digest.example")) == 1
    assert mailbox.to("nobody@digest.example") == []

    await publish(a, "A-2")
    await notify_due(settings, now=local(thursday, 12))
    await digests_at(settings, local(friday, 7))
    second = mailbox.to("daily@digest.example")[1]
    assert numbers_in(second) == {"A-2"}  # only what is new since the last digest
    stamp = await NoticeDigest.select().where(NoticeDigest.user == daily).first()
    assert stamp is not None and stamp["last_digest_at"] == local(friday, 7)
    assert stamp["pending_since"] is None

    # The weekly one waits for Monday 07:00 and lists the whole week.
    assert mailbox.to("weekly@digest.example") == []
    assert await digests_at(settings, local(monday, 6, 59)) == 0
    assert await digests_at(settings, local(monday, 7)) == 1
    [week] = mailbox.to("weekly@digest.example")
    assert week["Subject"] == translate(WEEKLY, "de") != WEEKLY
    assert numbers_in(week) == {"A-1", "A-2"}
    assert await digests_at(settings, local(monday, 8)) == 0
    assert len(mailbox.to("weekly@digest.example")) == 1
    assert len(mailbox.to("daily@digest.example")) == 2


async def test_a_digest_lists_only_what_the_person_still_sees_and_has_switched_on(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    a, b, c = [await factories.client_number() for _ in range(3)]
    owner = await factories.user("owner@digest.example")
    reader = await factories.user("reader@digest.example", notification_frequency="daily")
    account = await factories.account(owner, a, b, c)
    shared = await factories.shared_user(account, reader, a, b, c)
    await publish(a, "A-1")
    await publish(b, "B-1")
    await publish(c, "C-1")
    tuesday = next_tuesday()
    await notify_due(settings, now=tuesday)
    # Before the digest, b is no longer shared with them and they switch c off.
    await Grant.delete().where((Grant.shared_user == shared) & (Grant.client_number == b))
    await services.switch_notices(reader, c, False)
    await digests_at(settings, local(tuesday + timedelta(days=1), 7))
    [digest] = mailbox.to("reader@digest.example")
    body = text_of(digest)
    assert "A-1" in body and "B-1" not in body and "C-1" not in body


async def test_switching_from_daily_to_immediate_loses_nothing(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await factories.client_number()
    person = await factories.user("switcher@digest.example", notification_frequency="daily")
    await factories.account(person, number)
    await publish(number, "A-1")
    tuesday = next_tuesday()
    await notify_due(settings, now=tuesday)
    await deliver(settings)
    assert mailbox.to("switcher@digest.example") == []
    await PortalUser.update({PortalUser.notification_frequency: "immediate"}).where(
        PortalUser.id == person
    )
    # The waiting document goes out at once, in a final digest, not at 07:00.
    assert await digests_at(settings, tuesday + timedelta(minutes=1)) == 1
    [final] = mailbox.to("switcher@digest.example")
    assert numbers_in(final) == {"A-1"}
    # From then on, notices as they come; no digest repeats anything.
    await publish(number, "A-2")
    await notify_due(settings, now=tuesday + 2 * BURST_WAIT + timedelta(days=1))
    await deliver(settings)
    assert await digests_at(settings, local(tuesday + timedelta(days=2), 7)) == 0
    [_, notice] = mailbox.to("switcher@digest.example")
    assert numbers_in(notice) == {"A-2"}


async def test_back_to_immediate_the_next_notice_lists_what_waited(
    transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await factories.client_number()
    person = await factories.user("back@digest.example", notification_frequency="weekly")
    await factories.account(person, number)
    await publish(number, "A-1")
    tuesday = next_tuesday()
    await notify_due(settings, now=tuesday)
    await PortalUser.update({PortalUser.notification_frequency: "immediate"}).where(
        PortalUser.id == person
    )
    # A new document comes before any digest round: its notice lists both, once.
    await publish(number, "A-2")
    await notify_due(settings, now=tuesday + timedelta(days=1))
    await deliver(settings)
    [notice] = mailbox.to("back@digest.example")
    assert numbers_in(notice) == {"A-1", "A-2"}
    assert await digests_at(settings, tuesday + timedelta(days=1, minutes=1)) == 0
    assert await digests_at(settings, local(tuesday + timedelta(days=6), 7)) == 0
    assert len(mailbox.to("back@digest.example")) == 1


def test_digest_times_keep_seven_in_brussels_across_daylight_saving(settings: Any) -> None:
    summer = datetime(2026, 7, 15, 12, tzinfo=UTC)  # a Wednesday
    daily, weekly = last_digest_times(settings, summer)
    assert daily == datetime(2026, 7, 15, 5, tzinfo=UTC)  # 07:00 CEST
    assert weekly == datetime(2026, 7, 13, 5, tzinfo=UTC)  # Monday
    winter = datetime(2026, 12, 7, 5, 59, tzinfo=UTC)  # Monday 06:59 CET
    daily, weekly = last_digest_times(settings, winter)
    assert daily == datetime(2026, 12, 6, 6, tzinfo=UTC)
    assert weekly == datetime(2026, 11, 30, 6, tzinfo=UTC)
    assert last_digest_times(settings, winter + timedelta(minutes=1)) == (
        datetime(2026, 12, 7, 6, tzinfo=UTC),
        datetime(2026, 12, 7, 6, tzinfo=UTC),
    )
