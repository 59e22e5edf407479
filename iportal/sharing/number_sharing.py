"""Sharing seen from one client number: which of the account's shared users may see
it, ticked by the main contact, and the account's numbers a shared user may be given.

A number added to the account later (or back after an opt-out) is shared with nobody
until the main contact ticks it; these are the tick boxes offered right after adding
it and on the number's own page. Every change goes through
`shared_users.update_shared_user`, one shared user at a time, inside one transaction
that first locks the account: the same rows, audit events and e-mails as the API, and
the same lock order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from iportal import db
from iportal.accounts import services as accounts
from iportal.errors import Forbidden, NotFound
from iportal.settings import Settings
from iportal.sharing import shared_users
from iportal.sharing.services import MAIN_CONTACT_ONLY, my_client_number
from iportal.sharing.shared_users import SharedUser

# The numbers of the account the user manages (the one `shared_users` manages).
ACCOUNT_NUMBERS_SQL = """
SELECT cn.client_code, cn.company_name FROM client_number cn
 WHERE cn.account_id = $1 ORDER BY cn.client_code
"""
ACCOUNT_OF_NUMBER_SQL = "SELECT account_id FROM client_number WHERE client_code = $1"


@dataclass(frozen=True)
class ShareableNumber:
    client_code: str
    company_name: str


@dataclass(frozen=True)
class NumberSharing:
    """One number of the account and, per shared user of the account, whether they see
    it."""

    client_code: str
    company_name: str
    shared_users: tuple[SharedUser, ...]

    def sees(self, shared: SharedUser) -> bool:
        return self.client_code in shared.client_codes


async def _managed_account(user_id: int) -> int:
    """The account this user may share: `Forbidden` for anyone but the main contact of
    a business account, as in `shared_users`."""
    row = await db.fetchrow(shared_users.MANAGED_ACCOUNT_SQL, user_id)
    if row is None or row["kind"] != "b2b":
        raise Forbidden(shared_users.B2B_MAIN_CONTACT_ONLY)
    account_id: int = row["id"]
    return account_id


async def shareable_numbers(user_id: int) -> list[ShareableNumber]:
    """The client numbers of the account the user shares, by client code: the tick
    boxes of a shared user."""
    account_id = await _managed_account(user_id)
    rows = await db.fetch(ACCOUNT_NUMBERS_SQL, account_id)
    return [ShareableNumber(row["client_code"], row["company_name"]) for row in rows]


async def _shared_number(user_id: int, raw_client_code: str) -> tuple[int, str, str]:
    """(account id, client code, company name) of a number of the account the user
    shares: `NotFound` for a number they do not see, `Forbidden` for one they see as a
    shared user or in an account that cannot share."""
    number = await my_client_number(user_id, raw_client_code)
    if not number.is_main_contact:
        raise Forbidden(MAIN_CONTACT_ONLY, client_code=number.client_code)
    account_id = await _managed_account(user_id)
    if await db.fetchval(ACCOUNT_OF_NUMBER_SQL, number.client_code) != account_id:
        # Main contact of a second account: its numbers are shared from there.
        raise Forbidden(MAIN_CONTACT_ONLY, client_code=number.client_code)
    return account_id, number.client_code, number.company_name


async def number_sharing(user_id: int, raw_client_code: str) -> NumberSharing:
    """Who of the account's shared users sees this number (main contact only)."""
    _, client_code, company_name = await _shared_number(user_id, raw_client_code)
    people = await shared_users.list_shared_users(user_id)
    return NumberSharing(client_code, company_name, tuple(people))


async def share_number(
    settings: Settings,
    user_id: int,
    raw_client_code: str,
    shared_user_ids: Iterable[int],
    *,
    ip: str = "",
) -> NumberSharing:
    """Exactly these shared users of the account see this number from now on; the
    others no longer do. A shared user id not of this account is `NotFound`, and then
    nothing changes."""
    account_id, client_code, _ = await _shared_number(user_id, raw_client_code)
    wanted = set(shared_user_ids)
    async with db.transaction():
        await accounts.lock_account_access(account_id)  # steps 1 and 2 of the lock order
        people = await shared_users.list_shared_users(user_id)
        if wanted - {person.id for person in people}:
            raise NotFound(shared_users.NO_SUCH_SHARED_USER)
        for person in people:
            codes = set(person.client_codes)
            if (client_code in codes) == (person.id in wanted):
                continue
            await shared_users.update_shared_user(
                settings, user_id, person.id, client_codes=sorted(codes ^ {client_code}), ip=ip
            )
    return await number_sharing(user_id, client_code)
