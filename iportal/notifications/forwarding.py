"""Forwarding addresses: the purchase-invoice inbox of a client's accounting software
(Exact, Yuki, Octopus, …), where every new document of a client number goes, one
message each with its PDF and XML attached (`forwards.py` queues and attaches them).

Who may manage them is read from `visible_client_number`, the one answer to "who sees
which number": the main contact of the number's account manages every address of the
number; a shared user who sees it manages the addresses they added themselves, and
sees no other. Anyone else, and any number that does not exist, gets the same 404.

An address receives nothing but a confirmation link until someone there opens it: the
link works once, for `CONFIRM_FOR`, and its token is stored hashed. An address keeps
receiving documents for as long as the person who added it sees the number: a shared
user's addresses stop when their access ends.

Every change is audited (`audit_event`, written here with its own SQL: notifications
use no other domain's services).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from email_validator import EmailNotValidError, validate_email

from iportal import clock, db
from iportal.errors import Conflict, Gone, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.notifications.services import queue_email
from iportal.security import keyed_hash, new_token
from iportal.settings import Settings

CONFIRM_FOR = timedelta(days=7)
# A number's addresses; more would make the portal a way to send links to anyone.
MAX_ADDRESSES = 10
CONFIRMATION_PURPOSE = "forwarding-confirmation"
STATES = ("waiting_confirmation", "active", "failing")
# What people type between the parts of a client code (`dl2-001 2345`).
_SEPARATORS = re.compile(r"[\s.\-/_]+")

NOT_YOURS = N_("Client number %(client_code)s is not one of yours.")
NO_SUCH_ADDRESS = N_("There is no such forwarding address for client number %(client_code)s.")
ALREADY_THERE = N_("The documents of client number %(client_code)s already go to %(email)s.")
TOO_MANY = N_("Client number %(client_code)s already has %(count)s forwarding addresses.")
LINK_NOT_VALID = N_(
    "This link is not valid any more: it was already used, or it has expired. "
    "Ask for the address to be added again."
)
REQUIRED = N_("This field is required.")
NOT_AN_EMAIL = N_("“%(value)s” is not a valid e-mail address.")

# The number as this user sees it, and whether they are its main contact.
NUMBER_SQL = """
SELECT v.client_number_id AS id, v.client_code, cn.company_name, cn.account_id,
       i.name AS issuer_name, u.email AS user_email, u.language,
       EXISTS (SELECT 1 FROM account_membership m
                WHERE m.account_id = cn.account_id AND m.user_id = v.user_id
                  AND m.role = 'main_contact') AS is_main_contact
  FROM visible_client_number v
  JOIN client_number cn ON cn.id = v.client_number_id
  JOIN issuer i ON i.id = cn.issuer_id
  JOIN portal_user u ON u.id = v.user_id
 WHERE v.user_id = $1 AND v.client_code = $2 AND still_visible(v.access_ends_at)
"""
# The addresses of a number (all of them, or those one person added, $2), each with
# its latest forward: a failed one, or one waiting to be tried again, makes it failing.
ADDRESSES_SQL = """
SELECT f.id, f.email, f.created_at, f.confirmed_at, u.email AS added_by,
       latest.state AS latest_state, latest.last_error AS latest_error
  FROM forwarding_address f
  JOIN portal_user u ON u.id = f.user_id
  LEFT JOIN LATERAL (SELECT o.state, o.last_error FROM outbox_email o
                      WHERE o.forwarding_address_id = f.id AND o.document_id IS NOT NULL
                      ORDER BY o.id DESC LIMIT 1) latest ON true
 WHERE f.client_number_id = $1 AND ($2::int IS NULL OR f.user_id = $2)
   AND ($3::int IS NULL OR f.id = $3)
 ORDER BY f.email, f.id
"""
# Every number the user sees, with how many of the addresses they manage there are
# and how many of those are confirmed (the settings overview).
OVERVIEW_SQL = """
SELECT v.client_code, cn.company_name,
       count(f.id) AS addresses, count(f.confirmed_at) AS confirmed
  FROM visible_client_number v
  JOIN client_number cn ON cn.id = v.client_number_id
  LEFT JOIN forwarding_address f
         ON f.client_number_id = v.client_number_id
        AND (f.user_id = v.user_id
             OR EXISTS (SELECT 1 FROM account_membership m
                         WHERE m.account_id = cn.account_id AND m.user_id = v.user_id
                           AND m.role = 'main_contact'))
 WHERE v.user_id = $1 AND still_visible(v.access_ends_at)
 GROUP BY v.client_code, cn.company_name
 ORDER BY v.client_code
"""
COUNT_SQL = "SELECT count(*) FROM forwarding_address WHERE client_number_id = $1"
ADD_SQL = """
INSERT INTO forwarding_address (client_number_id, user_id, email, token_hash, token_expires_at,
                                created_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (client_number_id, email) DO NOTHING
RETURNING id
"""
# Single use: the token is cleared by the statement that confirms.
CONFIRM_SQL = """
UPDATE forwarding_address f
   SET confirmed_at = $2, token_hash = NULL, token_expires_at = NULL
  FROM client_number cn
 WHERE f.token_hash = $1 AND f.confirmed_at IS NULL AND f.token_expires_at > $2
   AND cn.id = f.client_number_id
RETURNING f.id, f.email, f.client_number_id, cn.account_id, cn.client_code
"""
LINK_VALID_SQL = """
SELECT f.email, cn.client_code, cn.company_name
  FROM forwarding_address f JOIN client_number cn ON cn.id = f.client_number_id
 WHERE f.token_hash = $1 AND f.confirmed_at IS NULL AND f.token_expires_at > $2
"""
# What was queued for an address and not sent goes with it; what was sent stays in
# the outbox (its address reference set to NULL) as the record of what went where.
DROP_PENDING_SQL = """
DELETE FROM outbox_email WHERE forwarding_address_id = $1 AND state = 'pending'
"""
REMOVE_SQL = "DELETE FROM forwarding_address WHERE id = $1 RETURNING email"
AUDIT_SQL = """
INSERT INTO audit_event (kind, actor_id, account_id, client_number_id, ip, detail)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
"""


@dataclass(frozen=True)
class ForwardingNumber:
    """A client number as the person managing its forwarding sees it."""

    id: int
    client_code: str
    company_name: str
    account_id: int | None
    issuer_name: str
    user_email: str
    language: str
    is_main_contact: bool


@dataclass(frozen=True)
class ForwardingAddress:
    id: int
    email: str
    state: str  # one of STATES
    added_by: str
    created_at: datetime
    confirmed_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class ForwardingSummary:
    """One number the person sees, with the addresses they manage there."""

    client_code: str
    company_name: str
    addresses: int
    confirmed: int


@dataclass(frozen=True)
class Confirmation:
    """What a valid confirmation link is about, shown before it is used."""

    email: str
    client_code: str
    company_name: str


def normalise_email(raw: str | None) -> str:
    """The address as the outbox sends it (lower case, ASCII domain); `InvalidInput`
    when its syntax is wrong. No DNS look-up."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput(REQUIRED)
    try:
        checked = validate_email(
            text, check_deliverability=False, allow_smtputf8=False, test_environment=True
        )
    except EmailNotValidError:
        raise InvalidInput(NOT_AN_EMAIL, value=text[:254]) from None
    return str(checked.ascii_email).lower()


def _state(row: db.Record) -> str:
    if row["confirmed_at"] is None:
        return "waiting_confirmation"
    if row["latest_state"] == "failed" or (
        row["latest_state"] == "pending" and row["latest_error"]
    ):
        return "failing"
    return "active"


def _address(row: db.Record) -> ForwardingAddress:
    return ForwardingAddress(
        id=row["id"],
        email=row["email"],
        state=_state(row),
        added_by=row["added_by"],
        created_at=row["created_at"],
        confirmed_at=row["confirmed_at"],
        last_error=(row["latest_error"] or "") if _state(row) == "failing" else "",
    )


async def forwarding_number(user_id: int, raw_client_code: str) -> ForwardingNumber:
    """One of the numbers this user sees; `NotFound` for any other, existing or not."""
    client_code = _SEPARATORS.sub("", raw_client_code or "").upper()[:40]
    row = await db.fetchrow(NUMBER_SQL, user_id, client_code)
    if row is None:
        raise NotFound(NOT_YOURS, client_code=client_code)
    return ForwardingNumber(**row)


def _only_own(number: ForwardingNumber, user_id: int) -> int | None:
    """Whose addresses this person manages: all the number's (None) or their own."""
    return None if number.is_main_contact else user_id


async def forwarding_addresses(user_id: int, raw_client_code: str) -> list[ForwardingAddress]:
    """The number's addresses for its main contact; a shared user's own for them."""
    number = await forwarding_number(user_id, raw_client_code)
    rows = await db.fetch(ADDRESSES_SQL, number.id, _only_own(number, user_id), None)
    return [_address(row) for row in rows]


async def forwarding_overview(user_id: int) -> list[ForwardingSummary]:
    """Every number the user sees, by client code, with the count of the addresses they
    manage there (all of them for its main contact, their own for a shared user)."""
    return [ForwardingSummary(**row) for row in await db.fetch(OVERVIEW_SQL, user_id)]


async def _audit(
    kind: str,
    *,
    actor_id: int | None,
    account_id: int | None,
    client_number_id: int,
    email: str,
    ip: str = "",
) -> None:
    detail = json.dumps({"email": email})
    await db.execute(AUDIT_SQL, kind, actor_id, account_id, client_number_id, ip[:45], detail)


async def add_forwarding_address(
    settings: Settings, user_id: int, raw_client_code: str, raw_email: str, *, ip: str = ""
) -> ForwardingAddress:
    """Adds an inbox to the number and sends it the confirmation link; nothing else goes
    there until the link is used. `Conflict` when the number already forwards there or
    has `MAX_ADDRESSES`."""
    number = await forwarding_number(user_id, raw_client_code)
    email = normalise_email(raw_email)
    token = new_token()
    now = clock.utcnow()
    token_hash = keyed_hash(settings.secret_key, token, purpose=CONFIRMATION_PURPOSE)
    async with db.transaction():
        count = await db.fetchval(COUNT_SQL, number.id)
        if count >= MAX_ADDRESSES:
            raise Conflict(TOO_MANY, client_code=number.client_code, count=count)
        args = (number.id, user_id, email, token_hash, now + CONFIRM_FOR, now)
        address_id = await db.fetchval(ADD_SQL, *args)
        if address_id is None:
            raise Conflict(ALREADY_THERE, client_code=number.client_code, email=email)
        base_url = settings.base_url.rstrip("/")
        await queue_email(
            "forwarding_confirm",
            email,
            number.language,
            {
                "link": f"{base_url}/forwarding/confirm?{urlencode({'token': token})}",
                "requested_by": number.user_email,
                "client_code": number.client_code,
                "company": number.company_name,
                "issuer": number.issuer_name,
                "days": CONFIRM_FOR.days,
            },
            client_number_id=number.id,
        )
        await _audit(
            "forwarding_address_added",
            actor_id=user_id,
            account_id=number.account_id,
            client_number_id=number.id,
            email=email,
            ip=ip,
        )
        row = await db.fetchrow(ADDRESSES_SQL, number.id, None, address_id)
    assert row is not None
    return _address(row)


async def remove_forwarding_address(
    user_id: int, raw_client_code: str, address_id: int, *, ip: str = ""
) -> None:
    """Stops forwarding to this address at once, what is still queued for it included;
    `NotFound` for an address this person does not manage."""
    number = await forwarding_number(user_id, raw_client_code)
    async with db.transaction():
        rows = await db.fetch(ADDRESSES_SQL, number.id, _only_own(number, user_id), address_id)
        if not rows:
            raise NotFound(NO_SUCH_ADDRESS, client_code=number.client_code)
        await db.execute(DROP_PENDING_SQL, address_id)
        email = await db.fetchval(REMOVE_SQL, address_id)
        await _audit(
            "forwarding_address_removed",
            actor_id=user_id,
            account_id=number.account_id,
            client_number_id=number.id,
            email=email,
            ip=ip,
        )


def _token_hash(settings: Settings, token: str) -> str:
    return keyed_hash(settings.secret_key, (token or "")[:200], purpose=CONFIRMATION_PURPOSE)


async def confirmation(settings: Settings, token: str) -> Confirmation:
    """What the link is about, while it may still be used; `Gone` otherwise."""
    row = await db.fetchrow(LINK_VALID_SQL, _token_hash(settings, token), clock.utcnow())
    if row is None:
        raise Gone(LINK_NOT_VALID)
    return Confirmation(**row)


async def confirm_forwarding_address(settings: Settings, token: str, *, ip: str = "") -> str:
    """Uses the link (once): the address receives the number's new documents from now
    on. Returns the address; `Gone` for a used, expired or unknown link."""
    async with db.transaction():
        row = await db.fetchrow(CONFIRM_SQL, _token_hash(settings, token), clock.utcnow())
        if row is None:
            raise Gone(LINK_NOT_VALID)
        await _audit(
            "forwarding_address_confirmed",
            actor_id=None,
            account_id=row["account_id"],
            client_number_id=row["client_number_id"],
            email=row["email"],
            ip=ip,
        )
    return str(row["email"])
