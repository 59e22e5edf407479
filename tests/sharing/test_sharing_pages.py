"""The sharing pages, without a browser: "Shared users" (add with tick boxes, a refusal
shown beside its field with what was typed, change, remove after a confirmation), who
sees each number on "Client numbers" and its own page, the tick boxes offered right
after adding a number, and what shared users and B2C accounts are not offered."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import httpx

from iportal.notifications.tables import OutboxEmail
from iportal.sharing.tables import Grant, SharedUser
from tests import factories
from tests.accounts.opt_in_helpers import invited
from tests.helpers import csrf_from, form_login, main_text

LOGIN = "BE0417000129"


async def anna(*client_number_ids: int, kind: str = "b2b", login: str = LOGIN) -> int:
    """Anna, main contact of an account holding these numbers: its id."""
    user_id = await factories.user("anna@peeters.example", first_name="Anna")
    return await factories.account(user_id, *client_number_ids, kind=kind, login=login)


async def log_in(client: httpx.AsyncClient, username: str) -> str:
    """Logged in through the login page: the CSRF token of the session's forms."""
    client.cookies.clear()
    assert (await form_login(client, username, factories.PASSWORD)).status_code == 303
    return csrf_from((await client.get("/me")).text)


async def granted_codes(shared_user_id: int) -> list[str]:
    rows = await Grant.select(Grant.client_number.client_code.as_alias("code")).where(
        Grant.shared_user == shared_user_id
    )
    return sorted(row["code"] for row in rows)


async def test_the_main_contact_adds_changes_and_removes_a_shared_user(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    first = await invited("DL20000501")
    second = await invited("DL20000502", company_name="Peeters Logistics BV")
    await anna(first.client_number_id, second.client_number_id)
    token = await log_in(client, LOGIN)
    listing = await client.get("/shared-users")
    assert listing.status_code == 200
    assert '<a href="/shared-users">' in listing.text  # in the menu
    assert "Nobody else sees this account's documents yet." in main_text(listing.text)
    for field in ("email", "first_name", "last_name", "language"):
        assert f'<label for="{field}">' in listing.text
    assert "<legend>Client numbers this person may see</legend>" in listing.text
    assert 'name="client_code" value="DL20000502"> DL20000502 – Peeters Logistics BV' in (
        listing.text
    )
    # A refusal: the form again, what was typed kept, the reason beside the field.
    form = {
        "csrf_token": token,
        "email": "luc at accountants",
        "first_name": "Luc",
        "last_name": "Janssens",
        "language": "fr",
        "client_code": "DL20000501",
    }
    refused = await client.post("/shared-users", data=form)
    assert refused.status_code == 422
    assert 'id="email-error">“luc at accountants” is not a valid e-mail address.' in refused.text
    assert 'aria-invalid="true" aria-describedby="email-error"' in refused.text
    assert 'value="Luc"' in refused.text and 'value="Janssens"' in refused.text
    assert '<option value="fr" lang="fr" selected>' in refused.text
    assert 'value="DL20000501" checked' in refused.text
    assert 'value="DL20000502" checked' not in refused.text
    long_name = {**form, "email": "luc@accountants.example", "last_name": "J" * 101}
    too_long = await client.post("/shared-users", data=long_name)
    assert too_long.status_code == 422
    assert 'id="last_name-error">last_name: at most 100 characters.' in too_long.text
    assert 'id="email-error"' not in too_long.text
    assert await SharedUser.count() == 0
    # Added: post, redirect, the list says an invitation is on its way.
    created = await client.post("/shared-users", data={**form, "email": "luc@accountants.example"})
    assert created.status_code == 303
    assert re.fullmatch(r"/shared-users\?created=\d+", created.headers["location"])
    shared_id = int(created.headers["location"].split("=")[1])
    after = main_text((await client.get(created.headers["location"])).text)
    assert "An invitation is on its way to luc@accountants.example" in after
    assert (
        "Name Luc Janssens E-mail address luc@accountants.example "
        "Sees client numbers DL20000501 Login Invited, no password yet"
    ) in after  # each value with its column's name, for a card on a phone
    assert await granted_codes(shared_id) == ["DL20000501"]
    invitation = (
        await OutboxEmail.select().where(OutboxEmail.recipient == "luc@accountants.example").first()
    )
    assert invitation is not None and invitation["template"] == "shared_user_invitation"
    again = await client.post("/shared-users", data={**form, "email": "luc@accountants.example"})
    assert again.status_code == 409
    assert 'id="email-error">luc@accountants.example is already a shared user' in again.text
    # Changed on the person's page: both numbers, a corrected name.
    edit = await client.get(f"/shared-users/{shared_id}")
    assert edit.status_code == 200 and 'value="DL20000501" checked' in edit.text
    saved = await client.post(
        f"/shared-users/{shared_id}",
        data={
            "csrf_token": token,
            "first_name": "Luc",
            "last_name": "Claes",
            "language": "nl",
            "client_code": ["DL20000501", "DL20000502"],
        },
    )
    assert (
        saved.status_code == 303 and saved.headers["location"] == f"/shared-users?saved={shared_id}"
    )
    assert (
        "Your changes for luc@accountants.example are saved."
        in (await client.get(saved.headers["location"])).text
    )
    assert await granted_codes(shared_id) == ["DL20000501", "DL20000502"]
    # "Client numbers" shows who sees each number, with a link to change it.
    numbers = await client.get("/client-numbers")
    assert '<th scope="col">Shared with</th>' in numbers.text
    assert numbers.text.count("Luc Claes (luc@accountants.example)") == 2
    assert 'href="/client-numbers/DL20000502/shared-users"' in numbers.text
    # Removed after a confirmation page.
    confirm = await client.get(f"/shared-users/{shared_id}/remove")
    assert "Remove luc@accountants.example?" in confirm.text
    assert await SharedUser.count() == 1  # not yet
    removed = await client.post(
        f"/shared-users/{shared_id}/remove", data={"csrf_token": csrf_from(confirm.text)}
    )
    assert removed.status_code == 303
    gone = main_text((await client.get(removed.headers["location"])).text)
    assert "The shared user is removed" in gone and "luc@accountants.example" not in gone
    assert await SharedUser.count() == 0
    assert (await client.get(f"/shared-users/{shared_id}")).status_code == 404
    # A form without its CSRF token changes nothing.
    forged = await client.post("/shared-users", data={**form, "csrf_token": "x"})
    assert forged.status_code == 403 and await SharedUser.count() == 0


async def test_a_number_is_ticked_per_shared_user_and_right_after_it_is_added(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    first = await invited("DL20000503")
    account_id = await anna(first.client_number_id)
    luc = await factories.user("luc@accountants.example", first_name="Luc")
    eva = await factories.user("eva@peeters.example", first_name="Eva")
    luc_shared = await factories.shared_user(account_id, luc, first.client_number_id)
    eva_shared = await factories.shared_user(account_id, eva)
    token = await log_in(client, LOGIN)
    later = await invited("DL50000504", company_name="Peeters Logistics BV")
    added = await client.post(
        "/client-numbers/activate", data={"csrf_token": token, "code": later.code}
    )
    assert added.status_code == 303
    confirmation = await client.get(added.headers["location"])
    text = confirmation.text
    assert "DL50000504 is now in your account" in text
    # Shared with nobody yet: a tick box per shared user, none ticked.
    ticks = text.split('id="number-sharing"')[1].split("</form>")[0]
    assert "<legend>Who may see client number DL50000504 (Peeters Logistics BV)?</legend>" in ticks
    assert f'name="shared_user" value="{luc_shared}">' in ticks
    assert f'name="shared_user" value="{eva_shared}">' in ticks
    assert "checked" not in ticks
    assert 'action="/client-numbers/DL50000504/shared-users"' in text
    saved = await client.post(
        "/client-numbers/DL50000504/shared-users",
        data={"csrf_token": token, "shared_user": str(eva_shared)},
    )
    assert saved.status_code == 303
    assert (
        "Who sees client number DL50000504 is saved."
        in (await client.get(saved.headers["location"])).text
    )
    assert await granted_codes(eva_shared) == ["DL50000504"]
    assert await granted_codes(luc_shared) == ["DL20000503"]
    # The number's own page; unticking everyone hides it from them again.
    own = await client.get("/client-numbers/DL20000503/shared-users")
    assert own.status_code == 200
    assert f'value="{luc_shared}" checked' in own.text
    assert f'value="{eva_shared}" checked' not in own.text
    cleared = await client.post(
        "/client-numbers/DL20000503/shared-users", data={"csrf_token": token}
    )
    assert cleared.status_code == 303 and await granted_codes(luc_shared) == []
    # Another account's shared user, or a number not Anna's: not found.
    other_account = await factories.account(await factories.user(), login="other")
    stranger = await factories.shared_user(other_account, await factories.user())
    foreign = await client.post(
        "/client-numbers/DL20000503/shared-users",
        data={"csrf_token": token, "shared_user": str(stranger)},
    )
    assert foreign.status_code == 404
    assert (await client.get("/client-numbers/DL29999999/shared-users")).status_code == 404


async def test_a_shared_user_is_offered_no_sharing_nor_opt_out_and_is_refused(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    number = await invited("DL20000505")
    account_id = await anna(number.client_number_id)
    luc = await factories.user("luc@accountants.example")
    await factories.shared_user(account_id, luc, number.client_number_id)
    other = await factories.user("eva@peeters.example")
    await factories.shared_user(account_id, other, number.client_number_id)
    token = await log_in(client, "luc@accountants.example")
    page = await client.get("/client-numbers")
    assert "DL20000505" in page.text
    assert "Shared with" not in page.text and "eva@peeters.example" not in page.text
    assert "/opt-out" not in page.text
    # Their own e-mails about the number are theirs to switch.
    assert "/client-numbers/DL20000505/notifications" in page.text
    assert 'href="/shared-users"' not in page.text
    for path in ("/shared-users", "/client-numbers/DL20000505/shared-users"):
        assert (await client.get(path)).status_code == 403
    posts = {
        "/shared-users": {"email": "x@example.test", "language": "en"},
        "/client-numbers/DL20000505/shared-users": {},
        "/client-numbers/DL20000505/opt-out": {},
    }
    for path, data in posts.items():
        refused = await client.post(path, data={"csrf_token": token, **data})
        assert refused.status_code == 403, path
    assert await granted_codes(await factories_shared_user_of(luc)) == ["DL20000505"]
    assert await SharedUser.count() == 2


async def factories_shared_user_of(user_id: int) -> int:
    row = await SharedUser.select(SharedUser.id).where(SharedUser.user == user_id).first()
    assert row is not None
    return int(row["id"])


async def test_a_b2c_account_is_offered_no_sharing(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    number = await invited("DL20000506", email="jonas@maes.example")
    user_id = await factories.user("jonas@maes.example")
    await factories.account(
        user_id, number.client_number_id, kind="b2c", login="jonas@maes.example"
    )
    token = await log_in(client, "jonas@maes.example")
    page = await client.get("/client-numbers")
    assert "DL20000506" in page.text and "/opt-out" in page.text  # still theirs to opt out
    assert "Shared with" not in page.text and 'href="/shared-users"' not in page.text
    assert "/shared-users" not in page.text
    refused = await client.get("/shared-users")
    assert refused.status_code == 403
    assert "Only the main contact of a business account can share it." in refused.text
    posted = await client.post(
        "/shared-users", data={"csrf_token": token, "email": "x@example.test", "language": "en"}
    )
    assert posted.status_code == 403 and await SharedUser.count() == 0
    assert (await client.get("/client-numbers/DL20000506/shared-users")).status_code == 403


async def test_the_end_of_access_is_set_moved_and_cleared_on_the_pages(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    first = await invited("DL20000511")
    await anna(first.client_number_id)
    token = await log_in(client, LOGIN)
    listing = await client.get("/shared-users")
    assert '<input type="date" id="until" name="until" value=""' in listing.text
    form = {
        "csrf_token": token,
        "email": "audit@auditors.example",
        "first_name": "Ann",
        "last_name": "Dit",
        "language": "en",
        "client_code": "DL20000511",
    }
    # A day in the past, and something that is no day: the reason beside the field.
    past = await client.post("/shared-users", data={**form, "until": "2020-06-30"})
    assert past.status_code == 422
    assert 'id="until-error">until: 2020-06-30 is in the past' in past.text
    assert 'value="2020-06-30"' in past.text  # kept as typed
    junk = await client.post("/shared-users", data={**form, "until": "30/06"})
    assert junk.status_code == 422 and 'id="until-error">until: “30/06” is not a day' in junk.text
    assert await SharedUser.count() == 0
    end = date.today() + timedelta(days=200)
    created = await client.post("/shared-users", data={**form, "until": end.isoformat()})
    assert created.status_code == 303
    shared_id = int(created.headers["location"].split("=")[1])
    api = (await client.get("/api/v1/shared-users")).json()["items"]
    assert [item["until"] for item in api] == [end.isoformat()]
    edit = await client.get(f"/shared-users/{shared_id}")
    assert f'name="until" value="{end.isoformat()}"' in edit.text
    # Emptied on the person's page: no end any more.
    page_form = {"csrf_token": token, "client_code": "DL20000511", "until": ""}
    cleared = await client.post(f"/shared-users/{shared_id}", data=page_form)
    assert cleared.status_code == 303
    assert (await client.get("/api/v1/shared-users")).json()["items"][0]["until"] is None
