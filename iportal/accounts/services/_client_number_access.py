"""A logged-in user's own client numbers: the list, adding one with a further code,
the notification switch and opting out (back to paper).

The main contact of an account manages its numbers; a shared user sees the numbers
ticked for them, read-only. A number the user cannot see answers `NotFound`, just
like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from iportal import clock, db
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._opt_in import (
    LOGIN_TAKEN,
    code_state,
    create_account,
    login_for,
    main_contact_accounts,
    redeem_and_opt_in,
    refuse_unusable,
)
from iportal.accounts.services._throttle import attempt, bucket, succeeded
from iportal.accounts.tables import ClientNumber, PortalUser
from iportal.errors import Conflict, Forbidden, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.pagination import clamp_limit, decode_cursor, encode_cursor

NOT_YOURS = N_("Client number %(client_code)s is not one of yours.")
MAIN_CONTACT_ONLY = N_("Only the main contact of client number %(client_code)s can do this.")

# The numbers of the accounts the user is main contact of, and those ticked for them as
# a shared user (only while the number is in the account that shared it).
MY_NUMBERS_SQL = """
SELECT * FROM (
  SELECT DISTINCT ON (cn.id) cn.id, cn.client_code, cn.company_name, cn.enterprise_number,
         cn.notifications_enabled, cn.delivery_channel, cn.activated_at, cn.account_id,
         a.login AS account_login, a.kind AS account_kind, i.name AS issuer_name, role
    FROM (SELECT m.account_id, NULL::int AS client_number_id, 'main_contact' AS role, 0 AS rank
            FROM account_membership m WHERE m.user_id = {} AND m.role = 'main_contact'
          UNION ALL
          SELECT su.account_id, g.client_number_id, 'shared_user', 1
            FROM shared_user su JOIN client_number_grant g ON g.shared_user_id = su.id
           WHERE su.user_id = {}) AS seen
    JOIN client_number cn ON cn.account_id = seen.account_id
                         AND (seen.client_number_id IS NULL OR cn.id = seen.client_number_id)
    JOIN account a ON a.id = cn.account_id
    JOIN issuer i ON i.id = cn.issuer_id
   ORDER BY cn.id, seen.rank
) AS mine
WHERE client_code > {} AND ({}::text IS NULL OR client_code = {})
ORDER BY client_code
LIMIT {}
"""

SHARED_USERS_SQL = """
SELECT g.client_number_id, su.id, u.email, u.first_name, u.last_name
  FROM client_number_grant g
  JOIN shared_user su ON su.id = g.shared_user_id
  JOIN client_number cn ON cn.id = g.client_number_id AND cn.account_id = su.account_id
  JOIN portal_user u ON u.id = su.user_id
 WHERE g.client_number_id = ANY({}::int[])
 ORDER BY u.email
"""


@dataclass(frozen=True)
class SharedUserRef:
    id: int
    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class MyClientNumber:
    """One of the user's numbers; `shared_users` is shown to the main contact only."""

    id: int
    client_code: str
    company_name: str
    issuer_name: str
    role: str  # main_contact or shared_user
    notifications_enabled: bool
    delivery_channel: str
    activated_at: datetime | None
    account_login: str
    shared_users: tuple[SharedUserRef, ...]

    @property
    def is_main_contact(self) -> bool:
        return self.role == "main_contact"


@dataclass(frozen=True)
class MyClientNumbers:
    items: list[MyClientNumber]
    next_cursor: str | None


async def _numbers(
    user_id: int, *, after: str = "", client_code: str | None = None, limit: int = 1
) -> list[MyClientNumber]:
    rows = await ClientNumber.raw(
        MY_NUMBERS_SQL, user_id, user_id, after, client_code, client_code, limit
    )
    managed = [row["id"] for row in rows if row["role"] == "main_contact"]
    shared: dict[int, list[SharedUserRef]] = {}
    if managed:
        for row in await ClientNumber.raw(SHARED_USERS_SQL, managed):
            shared.setdefault(row["client_number_id"], []).append(
                SharedUserRef(row["id"], row["email"], row["first_name"], row["last_name"])
            )
    return [
        MyClientNumber(
            id=row["id"],
            client_code=row["client_code"],
            company_name=row["company_name"],
            issuer_name=row["issuer_name"],
            role=row["role"],
            notifications_enabled=row["notifications_enabled"],
            delivery_channel=row["delivery_channel"],
            activated_at=row["activated_at"],
            account_login=row["account_login"],
            shared_users=tuple(shared.get(row["id"], ())),
        )
        for row in rows
    ]


async def my_client_numbers(
    user_id: int, *, limit: int | None = None, cursor: str | None = None
) -> MyClientNumbers:
    """The user's numbers by client code, with their role, keyset-paginated."""
    size = clamp_limit(limit)
    key = decode_cursor(cursor)
    after = str(key[0]) if key else ""
    items = await _numbers(user_id, after=after, limit=size + 1)
    next_cursor = encode_cursor([items[size - 1].client_code]) if len(items) > size else None
    return MyClientNumbers(items[:size], next_cursor)


async def my_client_number(user_id: int, raw_client_code: str) -> MyClientNumber:
    """One of the user's numbers; `NotFound` for any other, existing or not."""
    try:
        client_code = normalise_client_code(raw_client_code)
    except InvalidInput:
        raise NotFound(NOT_YOURS, client_code=(raw_client_code or "").strip()[:40]) from None
    found = await _numbers(user_id, client_code=client_code)
    if not found:
        raise NotFound(NOT_YOURS, client_code=client_code)
    return found[0]


async def _managed(user_id: int, raw_client_code: str) -> MyClientNumber:
    number = await my_client_number(user_id, raw_client_code)
    if not number.is_main_contact:
        raise Forbidden(MAIN_CONTACT_ONLY, client_code=number.client_code)
    return number


async def set_notifications(user_id: int, raw_client_code: str, enabled: bool) -> MyClientNumber:
    """Switch the new-document e-mails of one number on or off (main contact only)."""
    number = await _managed(user_id, raw_client_code)
    await ClientNumber.update(
        {ClientNumber.notifications_enabled: enabled, ClientNumber.updated_at: clock.utcnow()}
    ).where(ClientNumber.id == number.id)
    return await my_client_number(user_id, number.client_code)


async def opt_out(user_id: int, raw_client_code: str, *, ip: str = "") -> str:
    """Back to paper (main contact only): the number leaves the account and every grant
    on it ends, so that a later re-activation is shared with nobody until ticked again.
    Returns the client code."""
    number = await _managed(user_id, raw_client_code)
    now = clock.utcnow()
    async with db.transaction():
        rows = await ClientNumber.raw(
            """
            UPDATE client_number AS cn
               SET account_id = NULL, delivery_channel = 'paper', activated_at = NULL,
                   updated_at = {}
              FROM client_number AS before
             WHERE before.id = cn.id AND cn.id = {} AND cn.account_id IN (
                   SELECT account_id FROM account_membership
                    WHERE user_id = {} AND role = 'main_contact')
            RETURNING before.account_id
            """,
            now,
            number.id,
            user_id,
        )
        if not rows:  # opted out at the same time in another window
            raise NotFound(NOT_YOURS, client_code=number.client_code)
        await ClientNumber.raw(
            "DELETE FROM client_number_grant WHERE client_number_id = {}", number.id
        )
        await record_audit_event(
            "opted_out",
            actor_id=user_id,
            account_id=rows[0]["account_id"],
            client_number_id=number.id,
            ip=ip,
            detail={"client_code": number.client_code},
        )
    return number.client_code


async def add_client_number(user_id: int, raw_code: str, *, ip: str = "") -> MyClientNumber:
    """A further activation code, entered by a logged-in user: its number joins the
    account they are main contact of (a new account of theirs when they have none, with
    the login that number gives), with the same password. Refused like at registration:
    unknown 404; used, replaced or expired 410; active in an account 409."""
    tried = await attempt(bucket("activation", "ip", ip))
    state = await code_state(raw_code)
    accounts = await main_contact_accounts(user_id)
    refuse_unusable(state, tuple(int(account["id"]) for account in accounts))
    async with db.transaction():
        if accounts:
            account_id = int(accounts[0]["id"])
        else:
            user = await PortalUser.select(PortalUser.email).where(PortalUser.id == user_id).first()
            kind, login = login_for(state, str(user["email"]) if user else "")
            created = await create_account(kind, login, user_id)
            if created is None:
                raise Conflict(LOGIN_TAKEN, login=login, client_code=state.client_code)
            account_id = created
        await redeem_and_opt_in(state, user_id=user_id, account_id=account_id, ip=ip)
    await succeeded(tried)
    return await my_client_number(user_id, state.client_code)
