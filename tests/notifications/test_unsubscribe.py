"""One-click unsubscribe (RFC 8058) end to end, and each person's own switches on the
settings page: the header is in every notice; GET shows a button and changes nothing
(mail scanners prefetch links); POST without session or CSRF token switches off that
person's notices for that number only; the token cannot be forged or altered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from iportal import clock
from iportal.notifications import services
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.notices import BURST_WAIT, notify_due
from iportal.notifications.switches import read_unsubscribe_token, unsubscribe_token
from iportal.notifications.tables import NoticeOptOut
from tests import factories
from tests.conftest import Mailbox
from tests.helpers import csrf_from, form_login, main_text
from tests.notifications.test_notices import publish, text_of

ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


async def notify(settings: Any, rounds: int) -> None:
    later = clock.utcnow() + rounds * (BURST_WAIT + timedelta(seconds=1))
    await notify_due(settings, now=later)
    await services.deliver_due(SmtpMailer(settings), settings.mail_from, key="k")


async def opt_outs() -> set[tuple[int, int]]:
    rows = await NoticeOptOut.select(NoticeOptOut.user, NoticeOptOut.client_number)
    return {(row["user_id"], row["client_number_id"]) for row in rows}


async def test_one_click_unsubscribe_end_to_end(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await factories.client_number(client_code="DL20000901")
    other = await factories.client_number(client_code="DL20000902")
    main = await factories.user("main@unsub.example", language="fr")
    shared = await factories.user("shared@unsub.example", language="nl")
    account = await factories.account(main, number, other)
    await factories.shared_user(account, shared, number)
    await publish(number, "N-1")
    await notify(settings, 1)
    [notice] = mailbox.to("main@unsub.example")
    header = notice["List-Unsubscribe"].strip()
    assert header.startswith(f"<{settings.base_url}/unsubscribe/") and header.endswith(">")
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    assert url in text_of(notice)  # the same link in the body, for people
    path = urlsplit(url).path

    # A GET (a mail scanner, or the person) only shows the button.
    shown = await client.get(path)
    assert shown.status_code == 200 and "DL20000901" in shown.text
    assert f'<form method="post" action="{path}">' in shown.text
    assert await opt_outs() == set()

    # The mail provider's one-click POST: no session, no cookie, no CSRF token, and
    # sent from its own servers (not our site).
    client.cookies.clear()
    clicked = await client.post(
        path,
        content="List-Unsubscribe=One-Click",
        headers={**ONE_CLICK, "sec-fetch-site": "cross-site"},
    )
    assert clicked.status_code == 200
    assert "DL20000901" in main_text(clicked.text)
    assert await opt_outs() == {(main, number)}
    again = await client.post(path, content="List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert again.status_code == 200 and await opt_outs() == {(main, number)}

    # The next documents: not to them for that number; their other number and the
    # shared user still are.
    await publish(number, "N-2")
    await publish(other, "O-1")
    await notify(settings, 2)
    [_, later] = mailbox.to("main@unsub.example")
    assert "O-1" in text_of(later) and "N-2" not in text_of(later)
    [_, to_shared] = mailbox.to("shared@unsub.example")
    assert "N-2" in text_of(to_shared)


async def test_a_forged_or_altered_token_changes_nothing(
    client: httpx.AsyncClient, transaction: Any, settings: Any
) -> None:
    number = await factories.client_number()
    victim = await factories.user("victim@unsub.example")
    attacker = await factories.user("attacker@unsub.example")
    account = await factories.account(victim, number)
    await factories.shared_user(account, attacker, number)
    own = unsubscribe_token(settings.secret_key, attacker, [number])
    assert read_unsubscribe_token(settings.secret_key, own) is not None
    body, _, mac = own.partition(".")
    victims = unsubscribe_token(settings.secret_key, victim, [number]).partition(".")[0]
    forged = [
        f"{victims}.{mac}",  # another person's name under one's own signature
        unsubscribe_token("another installation's secret key", victim, [number]),
        f"{body}.{mac[:-1]}",
        f"{body}.",
        body,
        f"{body}x.{mac}",
        "x" * 2000,
        "%00",
    ]
    for token in forged:
        assert read_unsubscribe_token(settings.secret_key, token) is None, token
        for answer in (
            await client.get(f"/unsubscribe/{token}"),
            await client.post(f"/unsubscribe/{token}", headers=ONE_CLICK),
        ):
            assert answer.status_code in (404, 422), (token, answer.status_code)
    assert await opt_outs() == set()
    # Tokens are not guessable: the signature is 128 bits and differs per person.
    assert own != unsubscribe_token(settings.secret_key, victim, [number])
    assert len(mac) == 32


@pytest.mark.parametrize("language", ["nl", "fr", "en", "de"])
async def test_notices_carry_the_unsubscribe_link_in_every_language(
    transaction: Any, settings: Any, mailbox: Mailbox, language: str
) -> None:
    number = await factories.client_number()
    person = await factories.user(f"{language}@unsub.example", language=language)
    await factories.account(person, number)
    await publish(number, "L-1")
    await notify(settings, 1)
    [notice] = mailbox.to(f"{language}@unsub.example")
    assert notice["Content-Language"] == language
    url = notice["List-Unsubscribe"].strip()[1:-1]
    html = notice.get_body(("html",)).get_content()
    assert url in text_of(notice) and f'href="{url}"' in html


async def test_each_person_ticks_their_own_numbers_on_the_settings_page(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    first = await factories.client_number(client_code="DL20000911", company_name="First BV")
    second = await factories.client_number(client_code="DL20000912", company_name="Second BV")
    owner = await factories.user("owner@unsub.example")
    person = await factories.user("ticks@unsub.example")
    account = await factories.account(owner, first, second, login="ticks-login")
    await factories.shared_user(account, person, first, second)
    await form_login(client, "ticks@unsub.example", factories.PASSWORD)
    settings_page = await client.get("/me/notices")
    assert settings_page.status_code == 200
    assert 'name="on" value="DL20000911" checked' in settings_page.text
    assert 'name="on" value="DL20000912" checked' in settings_page.text
    token = csrf_from(settings_page.text)
    saved = await client.post(
        "/me/notices",
        data={"csrf_token": token, "shown": ["DL20000911", "DL20000912"], "on": ["DL20000911"]},
    )
    assert saved.status_code == 200 and 'id="notices-saved"' in saved.text
    assert 'name="on" value="DL20000912">' in saved.text  # now unticked
    assert await opt_outs() == {(person, second)}  # the owner's switches untouched
    listed = (await client.get("/api/v1/client-numbers")).json()["items"]
    assert {i["client_code"]: i["notifications_enabled"] for i in listed} == {
        "DL20000911": True,
        "DL20000912": False,
    }
    # Without the CSRF token, nothing changes.
    refused = await client.post("/me/notices", data={"shown": ["DL20000911"], "on": []})
    assert refused.status_code == 403 and await opt_outs() == {(person, second)}


async def test_a_main_contacts_switched_off_number_stays_off_for_them_only(
    transaction: Any,
) -> None:
    """The migration that made the switch each person's own: the number-wide flag the
    main contact had set becomes their own opt-out; the shared user's stays on."""
    import importlib

    from iportal import db

    migration = importlib.import_module(
        "migrations.notifications.notifications_2026_12_06t04_00_30_000000"
    )
    quiet = await factories.client_number(notifications_enabled=False)
    loud = await factories.client_number()
    main = await factories.user("was-off@unsub.example")
    shared = await factories.user("shared-on@unsub.example")
    account = await factories.account(main, quiet, loud)
    await factories.shared_user(account, shared, quiet)
    await db.execute(migration.FORWARDS)
    assert await opt_outs() == {(main, quiet)}
    await db.execute(migration.FORWARDS)  # run twice, still once
    assert await opt_outs() == {(main, quiet)}


async def test_a_notice_of_many_numbers_names_them_all_in_a_short_header(
    transaction: Any, settings: Any, mailbox: Mailbox, client: httpx.AsyncClient
) -> None:
    """An accountant's notice of 25 numbers: one header link (no longer than a mail line
    may be) that stops them all; each number's own link in the body stops just that one."""
    numbers = [await factories.client_number() for _ in range(25)]
    owner = await factories.user("owner-many@unsub.example")
    accountant = await factories.user("accountant@unsub.example")
    account = await factories.account(owner, *numbers)
    await factories.shared_user(account, accountant, *numbers)
    for n, number in enumerate(numbers):
        await publish(number, f"MANY-{n}")
    await notify(settings, 1)
    [notice] = mailbox.to("accountant@unsub.example")
    header = notice["List-Unsubscribe"].strip()
    assert len(header) < 200
    one = text_of(notice).split("MANY-0", 1)[1].split("/unsubscribe/", 1)[1].split()[0]
    single = await client.post(f"/unsubscribe/{one}", headers=ONE_CLICK)
    assert single.status_code == 200 and await opt_outs() == {(accountant, numbers[0])}
    every = await client.post(urlsplit(header[1:-1]).path, headers=ONE_CLICK)
    assert every.status_code == 200
    assert await opt_outs() == {(accountant, number) for number in numbers}
