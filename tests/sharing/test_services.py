"""Which client numbers a user may see: main contact of the account, or shared user of
the numbers ticked for them, nothing else; each number once, by client code."""

from __future__ import annotations

from typing import Any

from iportal.accounts.tables import ClientNumber
from iportal.sharing.services import visible_client_numbers
from tests import factories


async def test_main_contact_and_shared_numbers_once_each_by_code(transaction: Any) -> None:
    issuer_id = await factories.issuer("SHR")
    b, a, c = [
        await factories.client_number(issuer_id, code, company_name=f"Company {code}")
        for code in ("SHR0000002", "SHR0000001", "SHR0000003")
    ]
    own_number = await factories.client_number(issuer_id, "SHR0000004")
    anna, luc = await factories.user(), await factories.user()
    anna_account = await factories.account(anna, b, a)
    luc_account = await factories.account(luc, c, own_number)
    await factories.shared_user(anna_account, luc, a, b)
    # Ticked for Luc in his own account too: still once. Anna sees nothing of his.
    await factories.shared_user(luc_account, luc, c)
    await factories.shared_user(luc_account, anna)

    seen = await visible_client_numbers(luc)
    assert seen.codes == ("SHR0000001", "SHR0000002", "SHR0000003", "SHR0000004")
    assert seen.ids == (a, b, c, own_number)
    assert [n.company_name for n in seen][:3] == [
        "Company SHR0000001",
        "Company SHR0000002",
        "Company SHR0000003",
    ]
    assert seen.id_of("SHR0000003") == c
    assert seen.id_of("SHR9999999") is None
    assert (await visible_client_numbers(anna)).codes == ("SHR0000001", "SHR0000002")


async def test_a_grant_for_a_number_that_left_the_account_shows_nothing(transaction: Any) -> None:
    issuer_id = await factories.issuer("SHL")
    number = await factories.client_number(issuer_id, "SHL0000001")
    anna, luc = await factories.user(), await factories.user()
    account_id = await factories.account(anna, number)
    await factories.shared_user(account_id, luc, number)
    assert len(await visible_client_numbers(luc)) == 1
    await ClientNumber.update(
        {ClientNumber.account: None, ClientNumber.delivery_channel: "paper"}
    ).where(ClientNumber.id == number)
    nothing = await visible_client_numbers(luc)
    assert len(nothing) == 0
    assert list(nothing) == []
