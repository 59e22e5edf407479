"""Who may see which client numbers, and the numbers a person sees as "my client numbers".

A user sees the numbers opted in to the accounts they are main contact of, and
the numbers ticked for them as a shared user (until their end date's end, if any).
Nothing else. The rule is one SQL
function, `entitlements(user)`, whose text is `entitlement.sql` beside
this module; the database keeps its result for every user in `visible_client_number`
(and their documents in `visible_document`) by triggers on every table it depends
on: see the sharing migrations `sharing_2026_11_23t07_00_00_000000` and
`sharing_2026_12_06t01_00_30_000000`. Every query here and every document query reads
those tables, never the rule again, and keeps a row only while
`still_visible(access_ends_at)`.

What a main contact does with a number of their account (add one with a code, opt it
out) is the account's: `iportal.accounts.services`. Here those actions answer for the
number as its user sees it. Whether a person is told of a number's new documents is
their own switch, the main contact's and each shared user's (`iportal.notifications`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from iportal import db
from iportal.accounts import services as accounts
from iportal.accounts.identifiers import normalise_client_code
from iportal.errors import Forbidden, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.notifications import services as notifications
from iportal.pagination import clamp_limit, decode_cursor, encode_cursor
from iportal.settings import Settings

NOT_YOURS = N_("Client number %(client_code)s is not one of yours.")
MAIN_CONTACT_ONLY = N_("Only the main contact of client number %(client_code)s can do this.")


@dataclass(frozen=True)
class VisibleClientNumber:
    id: int
    client_code: str
    company_name: str
    contract_start: date


@dataclass(frozen=True)
class VisibleClientNumbers:
    """The client numbers a user may see, by client code, as columns: every document
    request reads them, and an accountant may see hundreds."""

    ids: tuple[int, ...]
    codes: tuple[str, ...]
    company_names: tuple[str, ...]
    contract_starts: tuple[date, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[VisibleClientNumber]:
        columns = (self.ids, self.codes, self.company_names, self.contract_starts)
        return (VisibleClientNumber(*number) for number in zip(*columns, strict=True))

    def id_of(self, client_code: str) -> int | None:
        try:
            return self.ids[self.codes.index(client_code)]
        except ValueError:
            return None


@dataclass(frozen=True)
class SharedUserRef:
    id: int
    email: str
    first_name: str
    last_name: str
    until: date | None  # the last day they see it; None: no end


@dataclass(frozen=True)
class MyClientNumber:
    """One of the numbers a user sees; `shared_users` is shown to the main contact only."""

    id: int
    client_code: str
    company_name: str
    issuer_name: str
    role: str  # main_contact or shared_user
    notifications_enabled: bool
    delivery_channel: str
    activated_at: datetime | None
    account_login: str
    account_kind: str  # b2b or b2c
    access_until: date | None  # the last day a shared user sees it; None: no end
    shared_users: tuple[SharedUserRef, ...]

    @property
    def is_main_contact(self) -> bool:
        return self.role == "main_contact"

    @property
    def can_share(self) -> bool:
        """The main contact of a business account shares its numbers; nobody else."""
        return self.is_main_contact and self.account_kind == "b2b"


@dataclass(frozen=True)
class MyClientNumbers:
    items: list[MyClientNumber]
    next_cursor: str | None


# One row of arrays (4 values to decode instead of a row per number) from the user's
# own rows, which hold each number's code and company name.
VISIBLE_CLIENT_NUMBERS_SQL = """
SELECT array_agg(v.client_number_id) AS ids, array_agg(v.client_code) AS codes,
       array_agg(v.company_name) AS company_names, array_agg(v.since) AS starts
  FROM visible_client_number v
 WHERE v.user_id = $1 AND still_visible(v.access_ends_at)
"""

VISIBLE_CLIENT_NUMBER_ID_SQL = """
SELECT v.client_number_id FROM visible_client_number v
 WHERE v.user_id = $1 AND v.client_code = $2 AND still_visible(v.access_ends_at)
"""

# The numbers the user sees, by code from a cursor (or the one code asked for), with
# the user's role: main contact of the number's account, else shared user.
MY_NUMBERS_SQL = """
SELECT v.client_number_id AS id, v.client_code, cn.company_name, i.name AS issuer_name,
       CASE WHEN m.user_id IS NULL THEN 'shared_user' ELSE 'main_contact' END AS role,
       cn.delivery_channel, cn.activated_at,
       a.login AS account_login, a.kind AS account_kind,
       (v.access_ends_at AT TIME ZONE 'Europe/Brussels')::date - 1 AS access_until
  FROM visible_client_number v
  JOIN client_number cn ON cn.id = v.client_number_id
  JOIN account a ON a.id = cn.account_id
  JOIN issuer i ON i.id = cn.issuer_id
  LEFT JOIN account_membership m ON m.account_id = cn.account_id AND m.user_id = v.user_id
                                AND m.role = 'main_contact'
 WHERE v.user_id = $1 AND v.client_code > $2 AND ($3::text IS NULL OR v.client_code = $3)
   AND still_visible(v.access_ends_at)
 ORDER BY v.client_code
 LIMIT $4
"""

# Who else sees each of these numbers: the shared users it is ticked for (while it is
# in the account that shared it).
SHARED_USERS_SQL = """
SELECT g.client_number_id, su.id, u.email, u.first_name, u.last_name, su.access_until
  FROM client_number_grant g
  JOIN shared_user su ON su.id = g.shared_user_id
  JOIN client_number cn ON cn.id = g.client_number_id AND cn.account_id = su.account_id
  JOIN portal_user u ON u.id = su.user_id
 WHERE g.client_number_id = ANY($1::int[])
 ORDER BY u.email
"""

# A number back on paper is shared with nobody when it comes back, until ticked again.
END_GRANTS_SQL = "DELETE FROM client_number_grant WHERE client_number_id = $1"


async def visible_client_numbers(user_id: int) -> VisibleClientNumbers:
    """The client numbers this user may see, sorted by client code."""
    row = await db.fetchrow(VISIBLE_CLIENT_NUMBERS_SQL, user_id)
    assert row is not None  # an aggregate without GROUP BY answers one row
    codes = row["codes"] or []
    # Sorted here, by code point: ordered aggregates sort once per array (PostgreSQL
    # 15), which costs more than the query itself.
    order = sorted(range(len(codes)), key=codes.__getitem__)
    return VisibleClientNumbers(
        ids=tuple(row["ids"][i] for i in order),
        codes=tuple(codes[i] for i in order),
        company_names=tuple(row["company_names"][i] for i in order),
        contract_starts=tuple(row["starts"][i] for i in order),
    )


async def visible_client_number_id(user_id: int, client_code: str) -> int | None:
    """The id of this client code if the user may see it (None for any other code)."""
    found: int | None = await db.fetchval(VISIBLE_CLIENT_NUMBER_ID_SQL, user_id, client_code)
    return found


async def _numbers(
    user_id: int, *, after: str = "", client_code: str | None = None, limit: int = 1
) -> list[MyClientNumber]:
    rows = await db.fetch(MY_NUMBERS_SQL, user_id, after, client_code, limit)
    managed = [row["id"] for row in rows if row["role"] == "main_contact"]
    shared: dict[int, list[SharedUserRef]] = {}
    if managed:
        for row in await db.fetch(SHARED_USERS_SQL, managed):
            shared.setdefault(row["client_number_id"], []).append(
                SharedUserRef(
                    row["id"],
                    row["email"],
                    row["first_name"],
                    row["last_name"],
                    row["access_until"],
                )
            )
    off = await notifications.switched_off(user_id) if rows else frozenset()
    return [
        MyClientNumber(
            **row,
            notifications_enabled=row["id"] not in off,
            shared_users=tuple(shared.get(row["id"], ())),
        )
        for row in rows
    ]


async def my_client_numbers(
    user_id: int, *, limit: int | None = None, cursor: str | None = None
) -> MyClientNumbers:
    """The numbers the user sees by client code, with their role, keyset-paginated."""
    size = clamp_limit(limit)
    key = decode_cursor(cursor)
    after = str(key[0]) if key else ""
    items = await _numbers(user_id, after=after, limit=size + 1)
    next_cursor = encode_cursor([items[size - 1].client_code]) if len(items) > size else None
    return MyClientNumbers(items[:size], next_cursor)


async def my_client_number(user_id: int, raw_client_code: str) -> MyClientNumber:
    """One of the numbers the user sees; `NotFound` for any other, existing or not."""
    try:
        client_code = normalise_client_code(raw_client_code)
    except InvalidInput:
        raise NotFound(NOT_YOURS, client_code=(raw_client_code or "").strip()[:40]) from None
    found = await _numbers(user_id, client_code=client_code)
    if not found:
        raise NotFound(NOT_YOURS, client_code=client_code)
    return found[0]


async def managed_client_number(user_id: int, raw_client_code: str) -> MyClientNumber:
    """One of the user's numbers that they manage: `Forbidden` for a shared user."""
    number = await my_client_number(user_id, raw_client_code)
    if not number.is_main_contact:
        raise Forbidden(MAIN_CONTACT_ONLY, client_code=number.client_code)
    return number


async def add_client_number(
    settings: Settings, user_id: int, raw_code: str, *, ip: str = ""
) -> MyClientNumber:
    """A further activation code: its number joins the user's account (see
    `accounts.add_client_number` for what is refused and why)."""
    client_code = await accounts.add_client_number(settings, user_id, raw_code, ip=ip)
    return await my_client_number(user_id, client_code)


async def set_notifications(user_id: int, raw_client_code: str, enabled: bool) -> MyClientNumber:
    """Switch the caller's own new-document e-mails of one number they see on or off
    (the main contact and each shared user alike; nobody else's change)."""
    number = await my_client_number(user_id, raw_client_code)
    await notifications.switch_notices(user_id, number.id, enabled)
    return await my_client_number(user_id, number.client_code)


async def opt_out(user_id: int, raw_client_code: str, *, ip: str = "") -> str:
    """Back to paper (main contact only): the number leaves the account and every grant
    on it ends, so that a later re-activation is shared with nobody until ticked again.
    Returns the client code."""
    number = await managed_client_number(user_id, raw_client_code)
    async with db.transaction():
        client_number_id = await accounts.opt_out(user_id, number.client_code, ip=ip)
        await db.execute(END_GRANTS_SQL, client_number_id)
    return number.client_code
