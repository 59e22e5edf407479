"""Handing over the main contact role: asked through the API or the page, confirmed
by both people with single-use links that expire, and then the role moves at once with
every number still seen by the former main contact."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal import clock, db
from iportal.errors import Gone
from iportal.notifications.mailer import SmtpMailer
from iportal.notifications.services import deliver_due
from iportal.sharing import main_contact
from tests import factories
from tests.accounts.opt_in_helpers import api_login, token_of
from tests.conftest import Mailbox
from tests.helpers import csrf_from, form_login

API = "/api/v1/account/main-contact"
LINK = re.compile(r"(https?://\S+/account/main-contact/confirm\?token=[A-Za-z0-9_\-]+)")
VISIBLE_SQL = """
SELECT c.client_code FROM visible_client_number v JOIN client_number c ON c.id = v.client_number_id
 WHERE v.user_id = $1 ORDER BY c.client_code
"""
MAIN_CONTACT_SQL = "SELECT user_id FROM account_membership WHERE account_id = $1"
SHARED_SQL = """
SELECT su.user_id, array_agg(c.client_code ORDER BY c.client_code) AS codes
  FROM shared_user su
  JOIN client_number_grant g ON g.shared_user_id = su.id
  JOIN client_number c ON c.id = g.client_number_id
 WHERE su.account_id = $1 GROUP BY su.user_id ORDER BY su.user_id
"""


async def deliver(settings: Any) -> None:
    await deliver_due(SmtpMailer(settings), settings.mail_from)


@pytest.fixture
async def world(transaction: Any) -> dict[str, Any]:
    """Anna, main contact of a B2B account with three numbers; Marc, a colleague who
    logs in and sees one of them; Nele, invited but without a password yet; Bert,
    main contact of another account with a shared user of his own; Jonas, B2C."""
    issuer = await factories.issuer("HND", "Hand Lease NV")
    n1, n2, n3 = [await factories.client_number(issuer, f"HND000000{i}") for i in (1, 2, 3)]
    n4 = await factories.client_number(issuer, "HND0000004")
    n5 = await factories.client_number(issuer, "HND0000005")
    anna = await factories.user("anna@example.test", first_name="Anna", last_name="Peeters")
    marc = await factories.user(
        "marc@example.test", first_name="Marc", last_name="Wouters", language="fr"
    )
    nele = await factories.user("nele@example.test", password_hash=None)
    bert = await factories.user("bert@example.test")
    other = await factories.user("other@example.test")
    jonas = await factories.user("jonas@example.test")
    account = await factories.account(anna, n1, n2, n3, login="BE0417000129")
    marc_row = await factories.shared_user(account, marc, n2)
    nele_row = await factories.shared_user(account, nele, n1)
    bert_account = await factories.account(bert, n4)
    other_row = await factories.shared_user(bert_account, other, n4)
    await factories.account(jonas, n5, kind="b2c")
    return {
        "account": account,
        "ids": {"anna": anna, "marc": marc, "bert": bert, "jonas": jonas},
        "rows": {"marc": marc_row, "nele": nele_row, "other": other_row},
    }


async def links(settings: Any, mailbox: Mailbox, *addresses: str) -> list[str]:
    """The confirmation link each address was e-mailed last."""
    await deliver(settings)
    found = []
    for address in addresses:
        message = mailbox.to(address)[-1]
        match = LINK.search(message.get_body(("plain",)).get_content())
        assert match, message
        found.append(token_of(match.group(1)))
    return found


async def confirm(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """The link's page, then its button (a GET alone confirms nothing)."""
    client.cookies.clear()
    shown = await client.get(f"/account/main-contact/confirm?token={token}")
    if shown.status_code != 200:
        return shown
    assert shown.headers["referrer-policy"] == "no-referrer"
    form = {"token": token, "csrf_token": csrf_from(shown.text)}
    return await client.post("/account/main-contact/confirm", data=form)


async def test_the_role_moves_when_both_have_confirmed(
    client: httpx.AsyncClient, world: dict[str, Any], settings: Any, mailbox: Mailbox
) -> None:
    ids, account = world["ids"], world["account"]
    headers = await api_login(client, "anna@example.test")
    asked = await client.post(API, json={"shared_user_id": world["rows"]["marc"]}, headers=headers)
    assert asked.status_code == 202, asked.text
    assert asked.json()["email"] == "marc@example.test"
    both = ("anna@example.test", "marc@example.test")
    anna_token, marc_token = await links(settings, mailbox, *both)
    [to_marc] = mailbox.to("marc@example.test")
    assert to_marc["Subject"] == (
        "Confirmer : Anna Peeters vous confie le rôle de contact principal de BE0417000129"
    )
    [to_anna] = mailbox.to("anna@example.test")
    assert "you lose access to nothing" in to_anna.get_body(("plain",)).get_content()

    # Anna's confirmation alone moves nothing, and her link works once.
    first = await confirm(client, anna_token)
    assert first.status_code == 200 and "as soon as the other person confirms" in first.text
    assert (await confirm(client, anna_token)).status_code == 410
    assert await db.fetchval(MAIN_CONTACT_SQL, account) == ids["anna"]

    second = await confirm(client, marc_token)
    assert second.status_code == 200
    assert "a été transféré" in second.text or "has moved" in second.text
    assert await db.fetchval(MAIN_CONTACT_SQL, account) == ids["marc"]
    shared = [(row["user_id"], list(row["codes"])) for row in await db.fetch(SHARED_SQL, account)]
    all_three = ["HND0000001", "HND0000002", "HND0000003"]
    assert (ids["anna"], all_three) in shared and ids["marc"] not in [u for u, _ in shared]
    # Both see every number of the account: the database's copy of who sees what agrees.
    assert [r["client_code"] for r in await db.fetch(VISIBLE_SQL, ids["anna"])] == all_three
    assert [r["client_code"] for r in await db.fetch(VISIBLE_SQL, ids["marc"])] == all_three
    assert (await confirm(client, marc_token)).status_code == 410

    await deliver(settings)
    done_anna = mailbox.to("anna@example.test")[-1]
    assert done_anna["Subject"] == "Marc Wouters is now the main contact of BE0417000129"
    assert "you still read every invoice" in done_anna.get_body(("plain",)).get_content()
    assert mailbox.to("marc@example.test")[-1]["Subject"] == (
        "Vous êtes maintenant le contact principal de BE0417000129"
    )
    # Marc manages the account now; Anna, a shared user, no longer does.
    marc_headers = await api_login(client, "marc@example.test")
    listed = (await client.get("/api/v1/shared-users", headers=marc_headers)).json()["items"]
    assert {(s["email"], tuple(s["client_codes"])) for s in listed} >= {
        ("anna@example.test", tuple(all_three))
    }
    kinds = [i["kind"] for i in (await client.get("/api/v1/audit-events")).json()["items"]]
    assert kinds.count("main_contact_handover_confirmed") == 2
    assert {"main_contact_handed_over", "main_contact_handover_requested"} <= set(kinds)
    await api_login(client, "anna@example.test")
    assert (await client.get("/api/v1/shared-users")).status_code == 403


async def test_who_may_ask_and_for_whom(
    client: httpx.AsyncClient, world: dict[str, Any], settings: Any, mailbox: Mailbox
) -> None:
    rows = world["rows"]
    headers = await api_login(client, "anna@example.test")
    for refused in (rows["other"], 987654, 2**31, 0):  # Bert's shared user, nobody
        answer = await client.post(API, json={"shared_user_id": refused}, headers=headers)
        assert answer.status_code == 404, (refused, answer.text)
        assert answer.json()["detail"] == "There is no such shared user in your account."
    no_login = await client.post(API, json={"shared_user_id": rows["nele"]}, headers=headers)
    assert no_login.status_code == 409
    jonas = await api_login(client, "jonas@example.test")
    b2c = await client.post(API, json={"shared_user_id": rows["marc"]}, headers=jonas)
    assert b2c.status_code == 403
    marc = await api_login(client, "marc@example.test")
    shared = await client.post(API, json={"shared_user_id": rows["marc"]}, headers=marc)
    assert shared.status_code == 403
    await deliver(settings)
    assert mailbox.to("anna@example.test") == mailbox.to("nele@example.test") == []


async def test_a_link_expires_and_a_newer_request_replaces_the_pending_one(
    client: httpx.AsyncClient, world: dict[str, Any], settings: Any, mailbox: Mailbox
) -> None:
    anna, marc_row = world["ids"]["anna"], world["rows"]["marc"]
    await main_contact.request_handover(settings, anna, marc_row)
    old_anna, old_marc = await links(settings, mailbox, "anna@example.test", "marc@example.test")
    await main_contact.request_handover(settings, anna, marc_row)
    new_anna, new_marc = await links(settings, mailbox, "anna@example.test", "marc@example.test")
    assert (await confirm(client, old_anna)).status_code == 410  # replaced
    await main_contact.confirm_handover(settings, new_anna)
    later = clock.utcnow() + main_contact.HANDOVER_LIFETIME + timedelta(seconds=1)
    with pytest.raises(Gone):
        await main_contact.confirm_handover(settings, new_marc, now=later)
    with pytest.raises(Gone):
        await main_contact.confirm_handover(settings, old_marc)
    assert await db.fetchval(MAIN_CONTACT_SQL, world["account"]) == anna
    done = await main_contact.confirm_handover(settings, new_marc)  # still in time
    assert done.completed and not done.giving


async def test_the_page_asks_in_every_language(
    client: httpx.AsyncClient, world: dict[str, Any], settings: Any, mailbox: Mailbox
) -> None:
    client.cookies.clear()
    assert (await form_login(client, "anna@example.test", factories.PASSWORD)).status_code == 303
    titles = {
        "en": "Hand over the main contact role",
        "nl": "De rol van hoofdcontact overdragen",
        "fr": "Transférer le rôle de contact principal",
        "de": "Die Rolle des Hauptkontakts übergeben",
    }
    for language, title in titles.items():
        client.cookies.set("iportal_lang", language)
        shown = await client.get("/account/main-contact")
        assert shown.status_code == 200 and title in shown.text
        assert "marc@example.test" in shown.text and "nele@example.test" not in shown.text
        numbers = await client.get("/client-numbers")
        assert 'href="/account/main-contact"' in numbers.text
    client.cookies.set("iportal_lang", "en")
    shown = await client.get("/account/main-contact")
    form = {"shared_user_id": str(world["rows"]["marc"]), "csrf_token": csrf_from(shown.text)}
    sent = await client.post("/account/main-contact", data=form)
    assert sent.status_code == 200 and "We e-mailed you and marc@example.test" in sent.text
    await links(settings, mailbox, "anna@example.test", "marc@example.test")
    form["shared_user_id"] = str(world["rows"]["other"])
    refused = await client.post("/account/main-contact", data=form)
    assert refused.status_code == 404 and "no such shared user" in refused.text
    client.cookies.clear()
    assert (await form_login(client, "jonas@example.test", factories.PASSWORD)).status_code == 303
    assert (await client.get("/account/main-contact")).status_code == 403
