"""The settings area: one menu on every settings page (the page one is on marked
`aria-current`), the old addresses still answering, the notices page that holds the
rhythm and the switches per number, refusals that keep what was typed, and empty
lists that say what to do next."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from iportal.accounts.tables import PortalUser
from tests import factories
from tests.helpers import csrf_from, form_login, main_text

EMAIL = "settings@example.test"
# Each settings page and the menu entry it is under.
PAGES = {
    "/me": "/me",
    "/me/notices": "/me/notices",
    "/me/password": "/me/password",
    "/me/security": "/me/security",
    "/me/tokens": "/me/tokens",
    "/me/forwarding": "/me/forwarding",
    "/me/activity": "/me/activity",
    "/client-numbers/DL20000701/forwarding": "/me/forwarding",
}
MENU = re.compile(r'<nav class="settings-nav" aria-label="Settings">(.*?)</nav>', re.S)


async def _person(*numbers: int) -> int:
    user_id = await factories.user(EMAIL, first_name="Sara", last_name="Claes")
    if numbers:
        await factories.account(user_id, *numbers, login="BE0417000129")
    return user_id


async def _log_in(client: httpx.AsyncClient) -> str:
    assert (await form_login(client, EMAIL, factories.PASSWORD)).status_code == 303
    return csrf_from((await client.get("/me")).text)


def _menu(html: str) -> str:
    found = MENU.search(html)
    assert found, "the page has no settings menu"
    return found.group(1)


@pytest.mark.parametrize(("path", "entry"), list(PAGES.items()))
async def test_every_settings_page_has_the_menu_with_its_own_entry_current(
    client: httpx.AsyncClient, transaction: Any, path: str, entry: str
) -> None:
    number = await factories.client_number(
        await factories.issuer("DL2"), client_code="DL20000701", company_name="Claes BV"
    )
    await _person(number)
    await _log_in(client)
    page = await client.get(path)
    assert page.status_code == 200, path
    menu = _menu(page.text)
    assert menu.count("<a ") == 7
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', menu) == [entry]
    assert page.text.count("<h1>") == 1


async def test_the_notices_page_saves_the_rhythm_and_the_switches_in_one_form(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    issuer = await factories.issuer("DL2")
    first = await factories.client_number(issuer, "DL20000711", company_name="First BV")
    second = await factories.client_number(issuer, "DL20000712", company_name="Second BV")
    user_id = await _person(first, second)
    token = await _log_in(client)
    page = await client.get("/me/notices")
    assert 'name="on" value="DL20000711" checked' in page.text
    assert '<option value="immediate" selected>' in page.text
    saved = await client.post(
        "/me/notices",
        data={
            "csrf_token": token,
            "notification_frequency": "weekly",
            "shown": ["DL20000711", "DL20000712"],
            "on": ["DL20000712"],
        },
    )
    assert saved.status_code == 200 and 'id="notices-saved"' in saved.text
    assert '<option value="weekly" selected>' in saved.text
    assert 'name="on" value="DL20000711">' in saved.text
    row = await PortalUser.select(PortalUser.notification_frequency).where(PortalUser.id == user_id)
    assert row[0]["notification_frequency"] == "weekly"
    refused = await client.post(
        "/me/notices", data={"csrf_token": token, "notification_frequency": "hourly"}
    )
    assert refused.status_code == 422 and 'id="notices-error"' in refused.text
    # The profile says where this moved; the old anchor of the unsubscribe page is there.
    profile = await client.get("/me")
    assert 'id="notices"' in profile.text and 'href="/me/notices"' in profile.text


async def test_a_refused_profile_keeps_what_was_typed(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await _person()
    token = await _log_in(client)
    refused = await client.post(
        "/me",
        data={"csrf_token": token, "first_name": "Saartje", "last_name": "x" * 101},
    )
    assert refused.status_code == 422
    assert 'value="Saartje"' in refused.text and 'value="' + "x" * 101 + '"' in refused.text
    assert re.search(r'id="last_name"[^>]*aria-invalid="true"', refused.text)
    assert 'id="profile-error"' in refused.text


async def test_a_refused_token_name_is_kept_and_no_tokens_says_what_they_are_for(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await _person()
    token = await _log_in(client)
    empty = await client.get("/me/tokens")
    assert 'id="no-tokens"' in empty.text
    assert "accounting software that collects new invoices" in main_text(empty.text)
    refused = await client.post("/me/tokens", data={"csrf_token": token, "name": "y" * 150})
    assert refused.status_code == 422
    assert 'value="' + "y" * 150 + '"' in refused.text and 'aria-invalid="true"' in refused.text


async def test_empty_lists_say_what_to_do_next(client: httpx.AsyncClient, transaction: Any) -> None:
    await _person()
    await _log_in(client)
    texts = {
        "/me/forwarding": "nothing to forward",
        "/me/notices": "nothing to tell you about",
        "/client-numbers": "Enter the activation code",
    }
    for path, expected in texts.items():
        assert expected in main_text((await client.get(path)).text), path


async def test_an_activity_filter_refused_keeps_the_filters(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    number = await factories.client_number(await factories.issuer("DL2"), "DL20000721")
    await _person(number)
    await _log_in(client)
    unfiltered = await client.get("/me/activity")
    assert 'id="no-events"' in unfiltered.text or 'id="activity"' in unfiltered.text
    refused = await client.get("/me/activity?client_code=DL29999999&actor=a@b.example")
    assert refused.status_code == 404
    assert 'value="DL29999999"' in refused.text and 'value="a@b.example"' in refused.text
    assert re.search(r'id="client_code"[^>]*aria-invalid="true"', refused.text)
    nothing = await client.get("/me/activity?kind=token_revoked")
    assert "No event matches these filters." in main_text(nothing.text)
