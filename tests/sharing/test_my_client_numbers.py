"""A logged-in user's client numbers: the list, more numbers with further codes (one
password), the notification switch, opt-out and back with the latest code only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iportal import clock
from iportal.accounts.tables import AuditEvent, ThrottleAttempt
from iportal.notifications.tables import NoticeOptOut
from iportal.sharing.tables import Grant
from tests import factories
from tests.accounts.opt_in_helpers import api_login, invited, new_code, number_row

LIST = "/api/v1/client-numbers"
ADD = "/api/v1/client-numbers/activate"
LOGIN = "BE0417000129"


async def main_contact(*client_number_ids: int) -> tuple[int, int]:
    """Anna, main contact of a B2B account holding these numbers: (user id, account id)."""
    user_id = await factories.user("anna@peeters.example", first_name="Anna")
    return user_id, await factories.account(user_id, *client_number_ids, login=LOGIN)


async def test_the_list_shows_role_switch_and_shared_users(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    first = await invited("DL20000201")
    second = await invited("DL50000202", company_name="Peeters Logistics BV")
    _, account_id = await main_contact(first.client_number_id, second.client_number_id)
    accountant = await factories.user("luc@accountants.example", first_name="Luc")
    await factories.shared_user(account_id, accountant, first.client_number_id)
    await api_login(client, LOGIN)
    items = (await client.get(LIST)).json()["items"]
    assert [i["client_code"] for i in items] == ["DL20000201", "DL50000202"]
    assert items[0]["role"] == "main_contact" and items[0]["notifications_enabled"] is True
    assert items[0]["delivery_channel"] == "electronic" and items[0]["account_login"] == LOGIN
    assert items[0]["issuer_name"] == "DL2 Lease NV"
    assert [s["email"] for s in items[0]["shared_users"]] == ["luc@accountants.example"]
    assert items[1]["shared_users"] == []
    page = (await client.get(LIST, params={"limit": 1})).json()
    assert [i["client_code"] for i in page["items"]] == ["DL20000201"]
    rest = (await client.get(LIST, params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [i["client_code"] for i in rest["items"]] == ["DL50000202"]
    assert rest["next_cursor"] is None
    # The accountant sees the one number shared with them, and nobody else on it.
    client.cookies.clear()
    await api_login(client, "luc@accountants.example")
    theirs = (await client.get(LIST)).json()["items"]
    assert [(i["client_code"], i["role"], i["shared_users"]) for i in theirs] == [
        ("DL20000201", "shared_user", [])
    ]


async def test_a_further_code_adds_a_number_to_the_same_account(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    first = await invited("DL20000203")
    user_id, account_id = await main_contact(first.client_number_id)
    subsidiary = await invited("DL50000204", enterprise_number="BE0403170701")
    headers = await api_login(client, LOGIN)
    added = await client.post(ADD, json={"code": subsidiary.code.lower()}, headers=headers)
    assert added.status_code == 201
    assert added.json()["client_code"] == "DL50000204" and added.json()["role"] == "main_contact"
    row = await number_row(subsidiary.client_number_id)
    assert (row["account_id"], row["delivery_channel"]) == (account_id, "electronic")
    assert row["activated_at"] is not None
    again = await client.post(ADD, json={"code": subsidiary.code}, headers=headers)
    assert again.status_code == 410 and "already been used" in again.json()["detail"]
    newer = await new_code(subsidiary.client_number_id)
    mine = await client.post(ADD, json={"code": newer}, headers=headers)
    assert mine.status_code == 409
    assert mine.json()["detail"] == "Client number DL50000204 is already in your account."
    # A number active in someone else's account.
    other_number = await invited("DL20000205")
    await factories.account(await factories.user("x@other.example"), other_number.client_number_id)
    elsewhere = await client.post(
        ADD, json={"code": await new_code(other_number.client_number_id)}, headers=headers
    )
    assert elsewhere.status_code == 409 and "another account" in elsewhere.json()["detail"]
    unknown = await client.post(ADD, json={"code": "2345-6789-ABCD-EFGH"}, headers=headers)
    assert unknown.status_code == 404
    without_token = await client.post(ADD, json={"code": newer})
    assert without_token.status_code == 403  # a cookie alone is not enough
    kinds = await AuditEvent.select(AuditEvent.kind).where(AuditEvent.actor == user_id)
    assert [k["kind"] for k in kinds].count("code_redeemed") == 1


async def test_anonymous_callers_get_401(client: httpx.AsyncClient, transaction: Any) -> None:
    assert (await client.get(LIST)).status_code == 401
    assert (await client.post(ADD, json={"code": "x"})).status_code == 401


async def opted_out(user_id: int) -> set[int]:
    rows = await NoticeOptOut.select(NoticeOptOut.client_number).where(NoticeOptOut.user == user_id)
    return {row["client_number_id"] for row in rows}


async def test_the_notification_switch_is_each_persons_own(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    first = await invited("DL20000206")
    anna, account_id = await main_contact(first.client_number_id)
    foreign = await invited("DL20000207")
    stranger = await factories.user("y@other.example")
    await factories.account(stranger, foreign.client_number_id)
    accountant = await factories.user("luc@accountants.example")
    await factories.shared_user(account_id, accountant, first.client_number_id)
    headers = await api_login(client, LOGIN)
    url = f"{LIST}/dl2-000 0206"
    off = await client.patch(url, json={"notifications_enabled": False}, headers=headers)
    assert off.status_code == 200 and off.json()["notifications_enabled"] is False
    assert await opted_out(anna) == {first.client_number_id}
    assert await opted_out(accountant) == set()  # the shared user's own switch stays on
    not_mine = await client.patch(
        f"{LIST}/DL20000207", json={"notifications_enabled": False}, headers=headers
    )
    nowhere = await client.patch(
        f"{LIST}/DL29999999", json={"notifications_enabled": False}, headers=headers
    )
    assert not_mine.status_code == nowhere.status_code == 404
    assert not_mine.json()["detail"] == "Client number DL20000207 is not one of yours."
    assert not_mine.json() == {**nowhere.json(), "detail": not_mine.json()["detail"]}
    assert await opted_out(stranger) == set() and await opted_out(anna) == {first.client_number_id}
    bad = await client.patch(url, json={"notifications_enabled": "nope"}, headers=headers)
    assert bad.status_code == 400
    # The shared user switches their own, and sees their own in the list.
    client.cookies.clear()
    shared_headers = await api_login(client, "luc@accountants.example")
    [listed] = (await client.get(LIST)).json()["items"]
    assert listed["notifications_enabled"] is True
    shared_off = await client.patch(
        url, json={"notifications_enabled": False}, headers=shared_headers
    )
    assert shared_off.status_code == 200 and shared_off.json()["notifications_enabled"] is False
    assert await opted_out(accountant) == {first.client_number_id}
    # Anna switches hers back on: Luc's stays off.
    client.cookies.clear()
    headers = await api_login(client, LOGIN)
    on = await client.patch(url, json={"notifications_enabled": True}, headers=headers)
    assert on.status_code == 200 and on.json()["notifications_enabled"] is True
    assert await opted_out(anna) == set()
    assert await opted_out(accountant) == {first.client_number_id}


async def test_opt_out_and_back_with_the_latest_code_only(
    client: httpx.AsyncClient, transaction: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = await invited("DL20000208")
    user_id, account_id = await main_contact()
    headers = await api_login(client, LOGIN)
    assert (await client.post(ADD, json={"code": number.code}, headers=headers)).status_code == 201
    accountant = await factories.user("luc@accountants.example")
    await factories.shared_user(account_id, accountant, number.client_number_id)
    out = await client.post(f"{LIST}/DL20000208/opt-out", headers=headers)
    assert out.status_code == 200
    assert out.json() == {"client_code": "DL20000208", "delivery_channel": "paper"}
    row = await number_row(number.client_number_id)
    assert (row["account_id"], row["delivery_channel"], row["activated_at"]) == (
        None,
        "paper",
        None,
    )
    assert await Grant.count() == 0  # back later, it is shared with nobody until ticked
    event = await AuditEvent.select().where(AuditEvent.kind == "opted_out").first()
    assert event is not None and (event["account_id"], event["actor_id"]) == (account_id, user_id)
    assert (await client.get(LIST)).json()["items"] == []
    assert (await client.post(f"{LIST}/DL20000208/opt-out", headers=headers)).status_code == 404
    # Back: the code used the first time is spent; of two new ones only the latest counts.
    used = await client.post(ADD, json={"code": number.code}, headers=headers)
    assert used.status_code == 410
    older = await new_code(number.client_number_id)
    latest = await new_code(number.client_number_id)
    refused = await client.post(ADD, json={"code": older}, headers=headers)
    assert refused.status_code == 410
    assert "only the latest one counts" in refused.json()["detail"]
    moment = clock.utcnow() + timedelta(weeks=15, seconds=1)
    monkeypatch.setattr(clock, "utcnow", lambda: moment)
    headers = await api_login(client, LOGIN)  # weeks later: a new session
    expired = await client.post(ADD, json={"code": latest}, headers=headers)
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    monkeypatch.undo()
    headers = await api_login(client, LOGIN)
    back = await client.post(ADD, json={"code": latest}, headers=headers)
    assert back.status_code == 201
    assert (await number_row(number.client_number_id))["account_id"] == account_id


async def test_only_the_main_contact_opts_out(client: httpx.AsyncClient, transaction: Any) -> None:
    number = await invited("DL20000209")
    _, account_id = await main_contact(number.client_number_id)
    accountant = await factories.user("luc@accountants.example")
    await factories.shared_user(account_id, accountant, number.client_number_id)
    headers = await api_login(client, "luc@accountants.example")
    refused = await client.post(f"{LIST}/DL20000209/opt-out", headers=headers)
    assert refused.status_code == 403
    assert (await number_row(number.client_number_id))["account_id"] == account_id


# Rules combined: issue, redeem, opt out and wait, against a small model -----------------

STEPS = st.lists(
    st.one_of(
        st.just(("issue", 0)),
        st.tuples(st.just("redeem"), st.integers(0, 4)),
        st.just(("opt_out", 0)),
        st.tuples(st.just("wait"), st.sampled_from([1, 8, 15])),
    ),
    min_size=1,
    max_size=12,
)


def expected_redeem(model: dict[str, Any], index: int, now: Any) -> int:
    """The status the model predicts for redeeming the index-th code issued."""
    if index >= len(model["codes"]):
        return 404
    code = model["codes"][index]
    if code["redeemed"]:
        return 410
    if model["active"]:
        return 409
    if index != len(model["codes"]) - 1 or code["expires_at"] <= now:
        return 410
    return 201


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
async def test_issue_redeem_opt_out_and_back_follow_the_rules(
    client: httpx.AsyncClient,
    transaction: Any,
    monkeypatch: pytest.MonkeyPatch,
    steps: list[tuple[str, int]],
) -> None:
    savepoint = await transaction.savepoint()
    try:
        await _run_steps(client, monkeypatch, steps)
    finally:
        await savepoint.rollback_to()
        monkeypatch.undo()


async def _run_steps(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, steps: list[tuple[str, int]]
) -> None:
    now = [clock.utcnow()]
    monkeypatch.setattr(clock, "utcnow", lambda: now[0])
    issuer_id = await factories.issuer()
    number = await factories.client_number(issuer_id)
    client_code = (await number_row(number))["client_code"]
    user_id = await factories.user()
    await factories.account(user_id)
    email = await factories_email(user_id)
    client.cookies.clear()
    headers = await api_login(client, email)
    model: dict[str, Any] = {"codes": [], "active": False}
    plain: list[str] = []
    for action, argument in steps:
        await ThrottleAttempt.delete(force=True)  # the model is about rules, not throttling
        if action == "issue":
            plain.append(await new_code(number))
            model["codes"].append({"redeemed": False, "expires_at": now[0] + timedelta(weeks=15)})
        elif action == "redeem":
            expected = expected_redeem(model, argument, now[0])
            code = plain[argument] if argument < len(plain) else "2345-6789-ABCD-EFGH"
            response = await client.post(ADD, json={"code": code}, headers=headers)
            assert response.status_code == expected, (steps, response.text)
            if expected == 201:
                model["codes"][argument]["redeemed"] = True
                model["active"] = True
        elif action == "opt_out":
            response = await client.post(f"{LIST}/{client_code}/opt-out", headers=headers)
            assert response.status_code == (200 if model["active"] else 404)
            model["active"] = False
        else:  # wait some weeks; the session is renewed, time has moved on
            now[0] += timedelta(weeks=argument)
            client.cookies.clear()
            headers = await api_login(client, email)
        row = await number_row(number)
        assert (row["account_id"] is not None) is model["active"]
        assert row["delivery_channel"] == ("electronic" if model["active"] else "paper")


async def factories_email(user_id: int) -> str:
    from iportal.accounts.tables import PortalUser

    row = await PortalUser.select(PortalUser.email).where(PortalUser.id == user_id).first()
    assert row is not None
    return str(row["email"])


async def test_a_user_without_an_account_gets_one_from_their_first_code(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    """An accountant who only sees others' numbers adds one of their own: a new account
    with the login that number gives; a login already taken is refused with the reason."""
    taken = await invited("DL20000210", enterprise_number=LOGIN)
    await main_contact()  # the account with login BE0417000129 exists
    await factories.user("luc@accountants.example")
    own = await invited("DL20000211", email="luc@accountants.example")
    headers = await api_login(client, "luc@accountants.example")
    added = await client.post(ADD, json={"code": own.code}, headers=headers)
    assert added.status_code == 201 and added.json()["account_login"] == "luc@accountants.example"
    joined = await client.post(ADD, json={"code": taken.code}, headers=headers)
    assert joined.status_code == 201  # Luc has an account now: the number joins it
    assert (await number_row(taken.client_number_id))["account_id"] == (
        await number_row(own.client_number_id)
    )["account_id"]


async def test_a_first_code_whose_login_is_taken_is_refused_with_the_reason(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    taken = await invited("DL20000212", enterprise_number=LOGIN)
    await main_contact()
    await factories.user("luc@accountants.example")
    headers = await api_login(client, "luc@accountants.example")
    refused = await client.post(ADD, json={"code": taken.code}, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "There is already an account with the login BE0417000129. Its main contact can add "
        "client number DL20000212 to it by entering this code."
    )
    assert (await number_row(taken.client_number_id))["account_id"] is None
