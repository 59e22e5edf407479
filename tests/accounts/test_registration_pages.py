"""The pages for people, without a browser: the three registration steps with CSRF on
every form, refusal pages that say why, and the "my client numbers" page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal import clock
from iportal.accounts.tables import PortalUser
from iportal.notifications.tables import NoticeOptOut
from tests import factories
from tests.accounts.opt_in_helpers import (
    NEW_PASSWORD,
    confirmation_link,
    invited,
    new_code,
    number_row,
)
from tests.conftest import Mailbox
from tests.helpers import csrf_from, form_login, main_text


async def step_one(client: httpx.AsyncClient, code: str) -> httpx.Response:
    token = csrf_from((await client.get("/activate", params={"code": code})).text)
    return await client.post("/activate", data={"csrf_token": token, "code": code})


async def test_the_three_steps_as_pages_end_logged_in(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await invited("DL20000301", enterprise_number="BE0417000129")
    first = await client.get("/activate", params={"code": number.code})
    assert first.status_code == 200 and f'value="{number.code}"' in first.text
    assert 'for="code"' in first.text  # every field has its label
    details = await step_one(client, number.code)
    assert details.status_code == 200
    text = main_text(details.text)
    assert "Peeters BV" in text and "DL20000301" in text and "BE0417000129" in text
    # The address on file, masked: the person types it to confirm it, or another one.
    assert "a•••@peeters.example" in text and "anna@peeters" not in details.text
    assert 'name="email" type="email" autocomplete="email" required value=""' in details.text
    no_csrf = await client.post(
        "/activate/start", data={"code": number.code, "email": "anna@peeters.example"}
    )
    assert no_csrf.status_code == 403
    sent = await client.post(
        "/activate/start",
        data={
            "csrf_token": csrf_from(details.text),
            "code": number.code,
            "email": "anna@peeters.example",
        },
    )
    assert sent.status_code == 200 and "Check your mailbox" in sent.text
    link = await confirmation_link(settings, mailbox, "anna@peeters.example")
    path = link.removeprefix(settings.base_url)
    step_three = await client.get(path)
    assert step_three.status_code == 200 and "Choose your password" in step_three.text
    assert step_three.headers["referrer-policy"] == "no-referrer"
    assert "we recommend at least 15 characters" in main_text(step_three.text).lower()
    token = path.split("token=", 1)[1]
    form = {"csrf_token": csrf_from(step_three.text), "token": token, "mode": "choose"}
    differ = await client.post(
        "/activate/confirm",
        data={**form, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD + "!"},
    )
    assert differ.status_code == 422 and "not the same" in differ.text
    short = await client.post(
        "/activate/confirm", data={**form, "password": "short", "password_repeat": "short"}
    )
    assert short.status_code == 422 and "at least 12 characters" in short.text
    done = await client.post(
        "/activate/confirm",
        data={**form, "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD},
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert "iportal_session" in done.cookies
    me = await client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["email"] == "anna@peeters.example"
    assert (await number_row(number.client_number_id))["delivery_channel"] == "electronic"
    client.cookies.set("iportal_lang", "en")  # logged in now: the page would follow the profile
    used = await client.get(path)
    assert used.status_code == 410 and "already been used" in used.text


async def test_a_wrong_code_is_explained_on_the_page(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    unknown = await step_one(client, "2345 6789 abcd efgh")
    assert unknown.status_code == 404
    assert "not known" in unknown.text and 'value="2345 6789 abcd efgh"' in unknown.text
    assert 'aria-invalid="true"' in unknown.text
    number = await invited("DL20000302")
    await new_code(number.client_number_id)
    replaced = await step_one(client, number.code)
    assert replaced.status_code == 410 and "latest letter or e-mail" in replaced.text


async def test_an_expired_link_gets_a_page_that_says_so(
    client: httpx.AsyncClient,
    transaction: Any,
    settings: Any,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    number = await invited("DL20000303")
    await client.post(
        "/api/v1/activation/start", json={"code": number.code, "email": "m@n.example"}
    )
    link = await confirmation_link(settings, mailbox, "m@n.example")
    moment = clock.utcnow() + timedelta(days=5, minutes=1)
    monkeypatch.setattr(clock, "utcnow", lambda: moment)
    page = await client.get(link.removeprefix(settings.base_url))
    assert page.status_code == 410 and "valid 5 days" in page.text
    assert 'href="/activate"' in page.text
    assert (await client.get("/activate/confirm", params={"token": "nope"})).status_code == 404


async def test_an_address_with_a_login_enters_its_password_and_totp_still_applies(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    user_id = await factories.user("anna@peeters.example", first_name="Anna")
    await factories.account(user_id, login="BE0417000129")
    await PortalUser.update({PortalUser.totp_enabled_at: clock.utcnow()}).where(
        PortalUser.id == user_id
    )
    number = await invited("DL50000304")
    await client.post(
        "/api/v1/activation/start",
        json={"code": number.code, "email": "anna@peeters.example"},
    )
    link = await confirmation_link(settings, mailbox, "anna@peeters.example")
    step_three = await client.get(link.removeprefix(settings.base_url))
    assert "Enter your password" in step_three.text and "BE0417000129" in step_three.text
    form = {
        "csrf_token": csrf_from(step_three.text),
        "token": link.split("token=", 1)[1],
        "mode": "existing",
    }
    wrong = await client.post("/activate/confirm", data={**form, "password": "not it at all"})
    assert wrong.status_code == 401 and "not the password of your existing login" in wrong.text
    done = await client.post("/activate/confirm", data={**form, "password": factories.PASSWORD})
    # The number joined the account, but the second factor is asked at the login page.
    assert done.status_code == 303 and done.headers["location"].startswith("/login")
    assert "iportal_session" not in done.cookies
    assert (await number_row(number.client_number_id))["account_id"] is not None


async def test_the_client_numbers_page(client: httpx.AsyncClient, transaction: Any) -> None:
    assert (await client.get("/client-numbers")).headers["location"].startswith("/login?next=")
    first = await invited("DL20000305")
    user_id = await factories.user("anna@peeters.example", first_name="Anna")
    await factories.account(user_id, first.client_number_id, login="BE0417000129")
    await form_login(client, "BE0417000129", factories.PASSWORD)
    second = await invited("DL50000306", company_name="Peeters Logistics BV")
    # The invitation link, opened while logged in, leads to the add-a-code form.
    redirected = await client.get("/activate", params={"code": second.code})
    assert redirected.headers["location"] == f"/client-numbers?code={second.code}"
    listing = await client.get(redirected.headers["location"])
    assert "DL20000305" in listing.text and f'value="{second.code}"' in listing.text
    token = csrf_from(listing.text)
    added = await client.post(
        "/client-numbers/activate", data={"csrf_token": token, "code": second.code}
    )
    assert added.status_code == 303
    after = await client.get(added.headers["location"])
    assert "DL50000306 is now in your account" in after.text
    refused = await client.post(
        "/client-numbers/activate", data={"csrf_token": token, "code": second.code}
    )
    assert refused.status_code == 410 and "already been used" in refused.text
    switched = await client.post(
        "/client-numbers/DL50000306/notifications", data={"csrf_token": token, "enabled": "off"}
    )
    assert switched.status_code == 303
    assert await NoticeOptOut.exists().where(
        (NoticeOptOut.user == user_id) & (NoticeOptOut.client_number == second.client_number_id)
    )
    confirm = await client.get("/client-numbers/DL50000306/opt-out")
    assert (
        confirm.status_code == 200 and "Back to paper for client number DL50000306?" in confirm.text
    )
    assert (await number_row(second.client_number_id))["account_id"] is not None  # not yet
    out = await client.post(
        "/client-numbers/DL50000306/opt-out", data={"csrf_token": csrf_from(confirm.text)}
    )
    assert out.status_code == 303
    assert "DL50000306 is back on paper" in (await client.get(out.headers["location"])).text
    assert (await number_row(second.client_number_id))["delivery_channel"] == "paper"
    assert (await client.get("/client-numbers/DL29999999/opt-out")).status_code == 404
