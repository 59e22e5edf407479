"""The forwarding API and pages: who may see and change a number's addresses (the main
contact all, a shared user their own, anyone else 404 like a number that does not
exist), the confirmation page (no login, a button, once), and the number's page."""

from __future__ import annotations

import re
from typing import Any

import httpx

from iportal.accounts.tables import ClientNumber
from iportal.notifications.tables import OutboxEmail
from tests import factories
from tests.accounts.opt_in_helpers import api_login
from tests.helpers import csrf_from, form_login, main_text

INBOX = "purchase@peeters.yuki.example"
TOKEN = re.compile(r"/forwarding/confirm\?token=([\w-]+)")


def addresses(code: str) -> str:
    return f"/api/v1/client-numbers/{code}/forwarding-addresses"


async def numbered(login: str, *, kind: str = "b2b") -> tuple[str, int, int]:
    """A number in the account `login` of Anna, its main contact: (code, account, id)."""
    number = await factories.client_number(company_name="Peeters BV")
    code = (await ClientNumber.select(ClientNumber.client_code).where(ClientNumber.id == number))[
        0
    ]["client_code"]
    anna = await factories.user(f"anna@{login.lower()}.example", first_name="Anna")
    account = await factories.account(anna, number, kind=kind, login=login)
    return code, account, number


async def link_token(recipient: str) -> str:
    """The token of the confirmation e-mail queued for `recipient`."""
    rows = await OutboxEmail.select(OutboxEmail.body_text).where(
        (OutboxEmail.recipient == recipient) & (OutboxEmail.template == "forwarding_confirm")
    )
    [row] = rows
    match = TOKEN.search(row["body_text"])
    assert match
    return match.group(1)


async def test_the_main_contact_adds_confirms_lists_and_removes(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    code, _, _ = await numbered("FWMAIN1")
    headers = await api_login(client, "FWMAIN1")
    assert (await client.get(addresses(code))).json() == {"items": []}
    created = await client.post(addresses(code), json={"email": f" {INBOX} "}, headers=headers)
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["email"], item["state"], item["confirmed_at"]) == (
        INBOX,
        "waiting_confirmation",
        None,
    )
    again = await client.post(addresses(code), json={"email": INBOX}, headers=headers)
    assert again.status_code == 409 and INBOX in again.json()["detail"]
    wrong = await client.post(addresses(code), json={"email": "not an address"}, headers=headers)
    assert wrong.status_code == 422 and "not an address" in wrong.json()["detail"]

    # Whoever reads the inbox confirms on a page without login, by a button, once.
    client.cookies.clear()
    token = await link_token(INBOX)
    page = await client.get("/forwarding/confirm", params={"token": token})
    assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
    assert INBOX in main_text(page.text) and code in main_text(page.text)
    form = {"csrf_token": csrf_from(page.text), "token": token}
    done = await client.post("/forwarding/confirm", data=form)
    assert done.status_code == 200 and 'id="forwarding-confirmed"' in done.text
    used = await client.post("/forwarding/confirm", data=form)
    assert used.status_code == 410
    assert (await client.get("/forwarding/confirm", params={"token": token})).status_code == 410

    headers = await api_login(client, "FWMAIN1")
    [listed] = (await client.get(addresses(code))).json()["items"]
    assert listed["state"] == "active" and listed["confirmed_at"] is not None
    removed = await client.delete(f"{addresses(code)}/{listed['id']}", headers=headers)
    assert removed.status_code == 204
    assert (await client.get(addresses(code))).json() == {"items": []}
    gone = await client.delete(f"{addresses(code)}/{listed['id']}", headers=headers)
    assert gone.status_code == 404


async def test_another_persons_number_is_404_like_one_that_does_not_exist(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    theirs, _, _ = await numbered("FWOTHER1")
    headers = await api_login(client, "FWOTHER1")
    created = await client.post(addresses(theirs), json={"email": INBOX}, headers=headers)
    address_id = created.json()["id"]
    await numbered("FWMINE01")
    headers = await api_login(client, "FWMINE01")
    missing = "ZZ99999999"
    for method, path, body in (
        ("GET", addresses(theirs), None),
        ("POST", addresses(theirs), {"email": "x@y.example"}),
        ("DELETE", f"{addresses(theirs)}/{address_id}", None),
    ):
        answer = await client.request(method, path, json=body, headers=headers)
        nothing = await client.request(
            method, path.replace(theirs, missing), json=body, headers=headers
        )
        assert answer.status_code == nothing.status_code == 404
        assert answer.text.replace(theirs, missing) == nothing.text
    page = await client.get(f"/client-numbers/{theirs}/forwarding")
    assert page.status_code == 404
    # Nothing was added to their number.
    assert await OutboxEmail.count().where(OutboxEmail.recipient == "x@y.example") == 0


async def test_a_shared_user_manages_their_own_address_only(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    code, account, number = await numbered("FWSHARE1")
    headers = await api_login(client, "FWSHARE1")
    mains = await client.post(addresses(code), json={"email": INBOX}, headers=headers)
    luc = await factories.user("luc@fw-accountants.example")
    await factories.shared_user(account, luc, number)
    headers = await api_login(client, "luc@fw-accountants.example")
    assert (await client.get(addresses(code))).json() == {"items": []}
    own = await client.post(addresses(code), json={"email": "luc@exact.example"}, headers=headers)
    assert own.status_code == 201
    items = (await client.get(addresses(code))).json()["items"]
    assert [(i["email"], i["added_by"]) for i in items] == [
        ("luc@exact.example", "luc@fw-accountants.example")
    ]
    # The main contact's address is not theirs to remove.
    refused = await client.delete(f"{addresses(code)}/{mains.json()['id']}", headers=headers)
    assert refused.status_code == 404
    headers = await api_login(client, "FWSHARE1")
    emails = [i["email"] for i in (await client.get(addresses(code))).json()["items"]]
    assert emails == ["luc@exact.example", INBOX]
    removed = await client.delete(f"{addresses(code)}/{own.json()['id']}", headers=headers)
    assert removed.status_code == 204


async def test_a_b2c_main_contact_forwards_their_own_number(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    code, _, _ = await numbered("FWB2C001", kind="b2c")
    headers = await api_login(client, "FWB2C001")
    created = await client.post(addresses(code), json={"email": INBOX}, headers=headers)
    assert created.status_code == 201
    assert await link_token(INBOX)


async def test_the_numbers_page_adds_and_stops_an_address(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    code, _, _ = await numbered("FWPAGE01")
    await form_login(client, "FWPAGE01", factories.PASSWORD)
    numbers = await client.get("/client-numbers")
    assert f'href="/client-numbers/{code}/forwarding"' in numbers.text
    page = await client.get(f"/client-numbers/{code}/forwarding")
    assert page.status_code == 200 and code in main_text(page.text)
    token = csrf_from(page.text)
    bad = await client.post(
        f"/client-numbers/{code}/forwarding", data={"csrf_token": token, "email": "nope"}
    )
    assert bad.status_code == 422 and 'id="email-error"' in bad.text
    added = await client.post(
        f"/client-numbers/{code}/forwarding", data={"csrf_token": token, "email": INBOX}
    )
    assert added.status_code == 303
    shown = await client.get(added.headers["location"])
    assert INBOX in main_text(shown.text) and 'id="forwarding-addresses"' in shown.text
    address_id = re.search(r"/forwarding/(\d+)/remove", shown.text)
    assert address_id
    stopped = await client.post(
        f"/client-numbers/{code}/forwarding/{address_id.group(1)}/remove",
        data={"csrf_token": token, "email": INBOX},
    )
    assert stopped.status_code == 303
    after = await client.get(stopped.headers["location"])
    assert 'id="forwarding-addresses"' not in after.text
