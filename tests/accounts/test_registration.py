"""Registration in three steps through the JSON API, with a real database and the real
SMTP server: the code (any spelling), the confirmation e-mail and its 5-day link, the
password; every refusal with its status and message; one account per e-mail address."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from iportal import clock
from iportal.accounts.tables import (
    Account,
    AccountMembership,
    ActivationCode,
    AuditEvent,
    PortalUser,
    Registration,
)
from tests import factories
from tests.accounts.opt_in_helpers import (
    NEW_PASSWORD,
    complete,
    confirmation_link,
    invited,
    new_code,
    number_row,
    register,
    start,
    token_for,
    token_of,
)
from tests.conftest import Mailbox

CHECK = "/api/v1/activation/check"
LOGIN = "BE0417000129"


def spelt_loosely(code: str) -> str:
    """As people type it: lower case, spaces instead of dashes, stray spaces."""
    return " " + code.lower().replace("-", " ") + " "


async def test_three_steps_open_a_b2b_account_and_opt_the_number_in(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await invited("DL20000101", enterprise_number=LOGIN)
    checked = await client.post(CHECK, json={"code": spelt_loosely(number.code)})
    assert checked.status_code == 200
    assert checked.json() == {
        "client_code": "DL20000101",
        "company_name": "Peeters BV",
        "email": "a•••@peeters.example",  # whoever holds the paper sees only this much
        "login_kind": "b2b",
        "login": LOGIN,
    }
    started = await start(client, number.code.replace("-", ""), "anna@peeters.example")
    assert started.status_code == 202
    link = await confirmation_link(settings, mailbox, "anna@peeters.example")
    assert link.startswith(f"{settings.base_url}/activate/confirm?token=")
    message = mailbox.to("anna@peeters.example")[-1]
    assert message["Content-Language"] == "nl"  # the client number's language
    assert "DL20000101" in message.get_body(("html",)).get_content()
    registration = await Registration.select().first()
    assert registration is not None and token_of(link) not in registration["token_hash"]
    assert registration["expires_at"] - registration["created_at"] == timedelta(days=5)

    done = await complete(client, token_of(link))
    assert done.status_code == 201
    assert done.json() == {"login": LOGIN}

    row = await number_row(number.client_number_id)
    assert row["delivery_channel"] == "electronic" and row["activated_at"] is not None
    account = await Account.select().where(Account.id == row["account_id"]).first()
    assert account is not None and (account["kind"], account["login"]) == ("b2b", LOGIN)
    user = await PortalUser.select().where(PortalUser.email == "anna@peeters.example").first()
    assert user is not None and user["password_hash"].startswith("$argon2id$")
    assert NEW_PASSWORD not in user["password_hash"]
    assert (user["first_name"], user["language"]) == ("Anna", "nl")
    assert user["email_confirmed_at"] is not None
    membership = await AccountMembership.select().where(AccountMembership.user == user["id"])
    assert [(m["account_id"], m["role"]) for m in membership] == [(account["id"], "main_contact")]
    code = (
        await ActivationCode.select()
        .where(ActivationCode.client_number == number.client_number_id)
        .first()
    )
    assert code is not None and code["redeemed_at"] is not None
    assert code["redeemed_by_id"] == user["id"]
    kinds = [e["kind"] for e in await AuditEvent.select(AuditEvent.kind).order_by(AuditEvent.id)]
    assert kinds == ["registration_started", "code_redeemed", "opted_in"]
    # The login shown at step 1 and the password chosen at step 3 open a session.
    login = await client.post(
        "/api/v1/auth/login", json={"username": "be 0417.000.129", "password": NEW_PASSWORD}
    )
    assert login.status_code == 200


async def test_without_an_enterprise_number_the_login_is_the_confirmed_email(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await invited("DL20000102", email="old@maes.example")
    checked = (await client.post(CHECK, json={"code": number.code})).json()
    assert (checked["login_kind"], checked["login"]) == ("b2c", "o•••@maes.example")
    # The address on file is out of date: corrected at step 1.
    token = await token_for(client, settings, mailbox, number.code, " Jonas@Maes.example ")
    assert mailbox.to("old@maes.example") == []
    done = await complete(client, token)
    assert done.status_code == 201 and done.json() == {"login": "jonas@maes.example"}
    account = await Account.select().first()
    assert account is not None and account["kind"] == "b2c"


async def test_a_client_outside_belgium_logs_in_with_its_vat_number(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await invited("DL20000103", email="info@dutch.example", aliases=("nl 0044.95445.B01",))
    checked = (await client.post(CHECK, json={"code": number.code})).json()
    assert (checked["login_kind"], checked["login"]) == ("b2c", "NL004495445B01")
    done = await register(client, settings, mailbox, number.code, "info@dutch.example")
    assert done.json() == {"login": "NL004495445B01"}


async def test_a_vat_alias_with_a_wrong_check_digit_is_no_login(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    """`DE811907981` looks like a German VAT number, but its check digit is wrong: the
    login falls back to the e-mail address rather than an identifier nobody can type."""
    number = await invited("DL20000105", email="eva@schmidt.example", aliases=("DE811907981",))
    checked = (await client.post(CHECK, json={"code": number.code})).json()
    assert (checked["login_kind"], checked["login"]) == ("b2c", "e•••@schmidt.example")
    valid = await invited("DL20000106", email="info@other.example", aliases=("9944:DE811907980",))
    checked = (await client.post(CHECK, json={"code": valid.code})).json()
    assert (checked["login_kind"], checked["login"]) == ("b2c", "DE811907980")


async def test_the_check_shows_the_address_on_file_masked_and_never_in_full(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    """The paper code is all it takes to see step 1: the main contact's address shows
    only its first letter and its domain, in the address and in an e-mail login."""
    number = await invited("DL20000107", email="Old.Address@Maes.example")
    checked = await client.post(CHECK, json={"code": number.code})
    assert checked.status_code == 200
    assert checked.json()["email"] == "o•••@maes.example"
    assert checked.json()["login"] == "o•••@maes.example"
    assert "old.address" not in checked.text.lower()
    # Typing it confirms it (or another address is given): the link goes there.
    token = await token_for(client, settings, mailbox, number.code, "old.address@maes.example")
    assert (await complete(client, token)).json() == {"login": "old.address@maes.example"}


def later(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    moment = clock.utcnow() + delta
    monkeypatch.setattr(clock, "utcnow", lambda: moment)


async def test_an_unknown_code_is_404_and_a_malformed_one_answers_the_same(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    await invited("DL20000104")
    unknown = await client.post(CHECK, json={"code": "2345-6789-ABCD-EFGH"})
    malformed = await client.post(CHECK, json={"code": "not a code at all"})
    assert unknown.status_code == malformed.status_code == 404
    assert unknown.json() == malformed.json()
    assert "not known" in unknown.json()["detail"]
    empty = await client.post(CHECK, json={"code": "  "})
    assert empty.status_code == 422 and "enter your activation code" in empty.json()["detail"]


@pytest.mark.parametrize(
    ("moved", "status"),
    [(timedelta(weeks=15) - timedelta(minutes=1), 200), (timedelta(weeks=15), 410)],
)
async def test_a_code_is_valid_15_weeks(
    client: httpx.AsyncClient,
    transaction: Any,
    monkeypatch: pytest.MonkeyPatch,
    moved: timedelta,
    status: int,
) -> None:
    number = await invited("DL20000105")
    later(monkeypatch, moved)
    response = await client.post(CHECK, json={"code": number.code})
    assert response.status_code == status
    if status == 410:
        assert "has expired: a code is valid 15 weeks" in response.json()["detail"]


async def test_a_used_code_and_a_number_active_elsewhere_are_refused_with_their_reason(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await invited("DL20000106")
    assert (
        await register(client, settings, mailbox, number.code, "a@b.example")
    ).status_code == 201
    used = await client.post(CHECK, json={"code": number.code})
    assert used.status_code == 410
    assert "already been used: each code works once" in used.json()["detail"]
    # A newer code of the same number, now that it is active in an account: 409.
    fresh = await new_code(number.client_number_id)
    elsewhere = await client.post(CHECK, json={"code": fresh})
    assert elsewhere.status_code == 409
    assert elsewhere.json()["detail"] == (
        "Client number DL20000106 is already active in another account. A client number "
        "can be in one account only: please ask the main contact of that account."
    )
    # Step 2 says nothing different, and sends nothing.
    mailbox.messages.clear()
    assert (await start(client, fresh, "x@y.example")).status_code == 202
    assert await confirmation_link_count(settings, mailbox) == 0


async def confirmation_link_count(settings: Any, mailbox: Mailbox) -> int:
    from iportal.notifications.mailer import SmtpMailer
    from iportal.notifications.services import deliver_due

    await deliver_due(SmtpMailer(settings), settings.mail_from)
    return len(mailbox.messages)


async def test_only_the_latest_code_of_a_number_counts(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await invited("DL20000107")
    latest = await new_code(number.client_number_id)
    older = await client.post(CHECK, json={"code": number.code})
    assert older.status_code == 410
    assert (
        "newer activation code has been issued for client number DL20000107"
        in (older.json()["detail"])
    )
    assert (await client.post(CHECK, json={"code": latest})).status_code == 200
    # A link asked for with the older code before the new one came stops working too.
    mailbox.messages.clear()
    third = await invited("DL20000108")
    token = await token_for(client, settings, mailbox, third.code, "c@d.example")
    await new_code(third.client_number_id)
    refused = await complete(client, token)
    assert refused.status_code == 410 and "newer activation code" in refused.json()["detail"]
    assert await Account.count() == 0  # nothing was created


async def test_step_two_answers_the_same_for_any_code(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await invited("DL20000109")
    answers = [
        await start(client, code, "who@ever.example")
        for code in (number.code, "2345-6789-ABCD-EFGH", "rubbish", number.code.lower())
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1
    ignored = {"x-request-id", "date", "content-length"}
    headers = [{k: v for k, v in a.headers.items() if k not in ignored} for a in answers]
    assert all(h == headers[0] for h in headers)
    # Only the two real starts queue an e-mail.
    assert await confirmation_link_count(settings, mailbox) == 2
    bad_address = await start(client, number.code, "not-an-address")
    assert bad_address.status_code == 422


@pytest.mark.parametrize(
    ("moved", "status"),
    [(timedelta(days=5) - timedelta(minutes=1), 201), (timedelta(days=5), 410)],
)
async def test_the_confirmation_link_is_valid_five_days(
    client: httpx.AsyncClient,
    transaction: Any,
    settings: Any,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    moved: timedelta,
    status: int,
) -> None:
    number = await invited("DL20000110")
    token = await token_for(client, settings, mailbox, number.code, "e@f.example")
    later(monkeypatch, moved)
    response = await complete(client, token)
    assert response.status_code == status
    if status == 410:
        assert "link has expired: a link is valid 5 days" in response.json()["detail"]
        assert (await number_row(number.client_number_id))["account_id"] is None


async def test_the_link_works_once_and_a_made_up_one_not_at_all(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    number = await invited("DL20000111")
    token = await token_for(client, settings, mailbox, number.code, "g@h.example")
    assert (await complete(client, token)).status_code == 201
    again = await complete(client, token)
    assert again.status_code == 410 and "already been used" in again.json()["detail"]
    made_up = await complete(client, token[:-4] + "abcd")
    assert made_up.status_code == 404 and "not valid" in made_up.json()["detail"]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short one", "at least 12 characters (we recommend 15)"),
        ("password1234", "too easy to guess"),
        ("i@j.example-2024", "too easy to guess"),  # the e-mail address inside
    ],
)
async def test_the_password_rules_apply_and_nothing_is_created(
    client: httpx.AsyncClient,
    transaction: Any,
    settings: Any,
    mailbox: Mailbox,
    password: str,
    reason: str,
) -> None:
    number = await invited("DL20000112")
    token = await token_for(client, settings, mailbox, number.code, "i@j.example")
    refused = await complete(client, token, password)
    assert refused.status_code == 422 and reason in refused.json()["detail"]
    assert await PortalUser.count() == 0 and await Account.count() == 0
    assert (await complete(client, token)).status_code == 201  # the link still works


async def test_several_invitations_to_one_address_end_in_one_account(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    """Three numbers of one person: two issuer entities, a subsidiary with its own
    enterprise number and a number without one. One user, one password, one account."""
    email = "anna@peeters.example"
    first = await invited("DL20000113", email=email, enterprise_number=LOGIN)
    second = await invited("DL50000114", email=email, enterprise_number="BE0403170701")
    third = await invited("DL20000115", email=email)
    assert (await register(client, settings, mailbox, first.code, email)).status_code == 201
    for number in (second, third):
        checked = (await client.post(CHECK, json={"code": number.code})).json()
        assert (checked["login_kind"], checked["login"]) == ("b2b", LOGIN)  # the existing one
        token = await token_for(client, settings, mailbox, number.code, email)
        counted, audited = await failed_logins(email)
        wrong = await complete(client, token, "a brand new password for this")
        assert wrong.status_code == 401
        assert "not the password of your existing login" in wrong.json()["detail"]
        # a wrong password here is a failed login: counted towards the lock, audited
        assert await failed_logins(email) == (counted + 1, audited + 1)
        done = await complete(client, token, NEW_PASSWORD)
        assert done.status_code == 201 and done.json() == {"login": LOGIN}
    assert await PortalUser.count() == 1 and await Account.count() == 1
    account = await Account.select(Account.id).first()
    assert account is not None
    for number in (first, second, third):
        assert (await number_row(number.client_number_id))["account_id"] == account["id"]
    assert await AccountMembership.count() == 1


async def test_a_number_whose_login_has_an_account_joins_it_with_that_password(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    """Another number of the same company (same enterprise number), registered from
    another address: it joins the company's account, with its main contact's password."""
    main_contact = await factories.user("boss@peeters.example")
    account_id = await factories.account(main_contact, login=LOGIN)
    number = await invited("DL50000116", email="colleague@peeters.example", enterprise_number=LOGIN)
    checked = (await client.post(CHECK, json={"code": number.code})).json()
    assert checked["login"] == LOGIN
    token = await token_for(client, settings, mailbox, number.code, "colleague@peeters.example")
    assert (await complete(client, token, NEW_PASSWORD)).status_code == 401
    done = await complete(client, token, factories.PASSWORD)
    assert done.status_code == 201 and done.json() == {"login": LOGIN}
    assert (await number_row(number.client_number_id))["account_id"] == account_id
    assert await PortalUser.count() == 1  # no user for the colleague's address


async def test_a_user_without_an_account_gets_one_with_their_password(
    client: httpx.AsyncClient, transaction: Any, settings: Any, mailbox: Mailbox
) -> None:
    """An accountant who only sees others' numbers opts in a number of their own."""
    await factories.user("luc@accountants.example")
    number = await invited("DL20000117", email="luc@accountants.example")
    token = await token_for(client, settings, mailbox, number.code, "luc@accountants.example")
    done = await complete(client, token, factories.PASSWORD)
    assert done.status_code == 201 and done.json() == {"login": "luc@accountants.example"}
    assert await PortalUser.count() == 1 and await Account.count() == 1


async def test_guessing_codes_is_throttled_per_address_and_successes_do_not_count(
    client: httpx.AsyncClient, transaction: Any
) -> None:
    number = await invited("DL20000118")
    for _ in range(9):
        assert (await client.post(CHECK, json={"code": "2345-6789-ABCD-EFGH"})).status_code == 404
    for _ in range(5):  # right answers are withdrawn from the count
        assert (await client.post(CHECK, json={"code": number.code})).status_code == 200
    assert (await client.post(CHECK, json={"code": "2345-6789-ABCD-EFGJ"})).status_code == 404
    throttled = await client.post(CHECK, json={"code": number.code})
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["retry-after"]) <= 15 * 60
    assert "Too many attempts" in throttled.json()["detail"]
    # Step 2 and step 3 count against the same address.
    assert (await start(client, number.code, "k@l.example")).status_code == 429
    assert (await complete(client, "x" * 43)).status_code == 429


async def failed_logins(email: str) -> tuple[int, int]:
    """The user's consecutive failures and their audited failed logins."""
    rows = await PortalUser.raw(
        "SELECT u.failed_login_count, (SELECT count(*) FROM audit_event a"
        " WHERE a.actor_id = u.id AND a.kind = 'login_failed') AS audited"
        " FROM portal_user u WHERE u.email = {}",
        email,
    )
    return int(rows[0]["failed_login_count"]), int(rows[0]["audited"])
