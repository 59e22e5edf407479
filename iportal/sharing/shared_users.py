"""The shared users of a B2B account, as its main contact manages them: who they are
and which of the account's client numbers each may see.

Only the main contact of a B2B account manages them (anyone else: `Forbidden`); a
shared user of another account answers exactly like one that does not exist
(`NotFound`). The person is a `portal_user` found by e-mail address or created without
a password: then they get an invitation with a single-use link, valid five days, to
choose one (the password-reset link and page); a person who already logs in gets a
short "shared with you" e-mail. The database triggers keep `visible_client_number`
and `visible_document` in step with the grants: a grant shows the documents and a
revocation hides them at the next request.

Access may be for a time: `until` is the last day (Europe/Brussels) the person sees
the account. At that day's end access ends by itself: the database derives the instant
(`access_ends_at`), the visible tables carry it and every read keeps a row only while
`still_visible(access_ends_at)`; no job has to run on time. The person is warned by
e-mail a week before (`iportal.sharing.access_ends`).

Each change is one transaction: the rows, the audit events and the e-mails together.
The lock order of every change to who sees what in an account (here, an opt-out, a
number opted in: `accounts.lock_account_access` takes steps 1 and 2):
  1. the `account` row, `FOR UPDATE`;
  2. all the account's `client_number` rows (and a number joining it), `FOR UPDATE`,
     in id order;
  3. the `shared_user` row and its grants, memberships, the number's own row.
Two changes to one account so run one after the other, each seeing what the other
committed (no write skew); the database's refresh then finds its numbers locked
already, and publishing takes its key-share locks on numbers in id order too, so a
change and a batch being published wait for each other and never deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from iportal import clock, db
from iportal.accounts import services as accounts
from iportal.accounts.identifiers import email_address, normalise_client_code
from iportal.columns import LANGUAGES
from iportal.errors import Conflict, Forbidden, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.notifications.services import queue_email
from iportal.settings import Settings

INVITATION_LIFETIME = timedelta(days=5)
# The end date is a day of the portal's country; access ends at its end there.
BRUSSELS = ZoneInfo("Europe/Brussels")
MAX_NAME_LENGTH = 100

B2B_MAIN_CONTACT_ONLY = N_("Only the main contact of a business account can share it.")
NO_SUCH_SHARED_USER = N_("There is no such shared user in your account.")
NOT_IN_ACCOUNT = N_("Client number %(client_code)s is not one of this account's numbers.")
ALREADY_SHARED = N_("%(email)s is already a shared user of this account.")
NOT_YOURSELF = N_("You are the main contact of this account: you see all its numbers already.")
OWN_PROFILE = N_("This person already has a login: their name and language are theirs to change.")
UNTIL_PAST = N_("until: %(until)s is in the past; choose today or a later day.")


class Keep(Enum):
    """A field left as it is (`until` may be set, changed, or cleared with None)."""

    KEEP = "keep"


KEEP = Keep.KEEP

# The account the user is main contact of, with its kind (the lowest id if several).
MANAGED_ACCOUNT_SQL = """
SELECT a.id, a.kind, u.email, u.first_name, u.last_name
  FROM account_membership m
  JOIN account a ON a.id = m.account_id
  JOIN portal_user u ON u.id = m.user_id
 WHERE m.user_id = $1 AND m.role = 'main_contact'
 ORDER BY a.id LIMIT 1
"""
# The shared users of an account with the codes ticked for each (numbers still in it),
# and the open delivery problem of each one's address: the main contact sees it.
LIST_SQL = """
SELECT su.id, su.user_id, u.email, u.first_name, u.last_name, u.language,
       u.password_hash IS NOT NULL AS has_login, su.created_at, su.access_until,
       coalesce(array_agg(cn.client_code ORDER BY cn.client_code)
                FILTER (WHERE cn.id IS NOT NULL), '{}') AS client_codes,
       p.kind AS problem_kind, p.first_at AS problem_since
  FROM shared_user su
  JOIN portal_user u ON u.id = su.user_id
  LEFT JOIN delivery_problem p ON p.email = u.email AND p.cleared_at IS NULL
  LEFT JOIN client_number_grant g ON g.shared_user_id = su.id
  LEFT JOIN client_number cn ON cn.id = g.client_number_id AND cn.account_id = su.account_id
 WHERE su.account_id = $1 AND ($2::int IS NULL OR su.id = $2)
 GROUP BY su.id, u.id, p.id
 ORDER BY u.email, su.id
"""
FIND_USER_SQL = """
SELECT id, password_hash IS NOT NULL AS has_login FROM portal_user WHERE email = $1
"""
USER_ID_SQL = "SELECT id FROM portal_user WHERE email = $1"
NEW_USER_SQL = """
INSERT INTO portal_user (email, first_name, last_name, language) VALUES ($1, $2, $3, $4)
ON CONFLICT (email) DO NOTHING RETURNING id
"""
IS_MEMBER_SQL = "SELECT 1 FROM account_membership WHERE account_id = $1 AND user_id = $2"
ALREADY_SQL = "SELECT 1 FROM shared_user WHERE account_id = $1 AND user_id = $2"
NEW_SHARED_USER_SQL = """
INSERT INTO shared_user (account_id, user_id, created_by_id, access_until)
VALUES ($1, $2, $3, $4) RETURNING id
"""
GRANTED_SQL = """
SELECT g.client_number_id, cn.client_code FROM client_number_grant g
  JOIN client_number cn ON cn.id = g.client_number_id
 WHERE g.shared_user_id = $1 ORDER BY g.client_number_id
"""
# Many numbers ticked or unticked in one statement each, so that the grant triggers
# refresh the person's visibility once; each number's change is an audit event.
GRANT_SQL = """
WITH granted AS (
    INSERT INTO client_number_grant (shared_user_id, client_number_id)
    SELECT $1, number FROM unnest($2::int[]) AS number ORDER BY number
    ON CONFLICT DO NOTHING RETURNING client_number_id)
INSERT INTO audit_event (kind, actor_id, account_id, client_number_id, ip, detail)
SELECT 'grant_added', $3, $4, client_number_id, $5, $6::jsonb FROM granted
"""
REVOKE_SQL = """
WITH revoked AS (
    DELETE FROM client_number_grant
     WHERE shared_user_id = $1 AND client_number_id = ANY($2::int[])
    RETURNING client_number_id)
INSERT INTO audit_event (kind, actor_id, account_id, client_number_id, ip, detail)
SELECT 'grant_revoked', $3, $4, client_number_id, $5, $6::jsonb FROM revoked
"""
RENAME_SQL = """
UPDATE portal_user SET first_name = coalesce($2, first_name),
       last_name = coalesce($3, last_name), language = coalesce($4, language)
 WHERE id = $1
"""
UNTIL_SQL = "UPDATE shared_user SET access_until = $2 WHERE id = $1"
DELETE_SQL = "DELETE FROM shared_user WHERE id = $1"


@dataclass(frozen=True)
class AddressProblem:
    """E-mail to a shared user does not arrive: since when, and why (`refused`,
    `bounced`, `expired`; see `iportal.notifications.problems`)."""

    kind: str
    since: datetime


@dataclass(frozen=True)
class SharedUser:
    id: int
    user_id: int
    email: str
    first_name: str
    last_name: str
    language: str
    has_login: bool  # False until the invited person chose a password
    client_codes: tuple[str, ...]
    until: date | None  # the last day they see the account; None: no end
    delivery_problem: AddressProblem | None = None


@dataclass(frozen=True)
class _Manager:
    account_id: int
    user_id: int
    email: str
    name: str


async def _manager(user_id: int) -> _Manager:
    row = await db.fetchrow(MANAGED_ACCOUNT_SQL, user_id)
    if row is None or row["kind"] != "b2b":
        raise Forbidden(B2B_MAIN_CONTACT_ONLY)
    name = f"{row['first_name']} {row['last_name']}".strip() or row["email"]
    return _Manager(row["id"], user_id, row["email"], name)


def _name(value: str, field: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned.isprintable():
        raise InvalidInput(N_("Control characters are not allowed here."))
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(
            N_("%(field)s: at most %(max)s characters."), field=field, max=MAX_NAME_LENGTH
        )
    return cleaned


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise InvalidInput(N_("language: one of nl, fr, en, de."))
    return value


def _until(value: date | None, now: datetime | None) -> date | None:
    """An end date from today (in Brussels) on; `InvalidInput` for one in the past."""
    today = (now or clock.utcnow()).astimezone(BRUSSELS).date()
    if value is not None and value < today:
        raise InvalidInput(UNTIL_PAST, until=value.isoformat())
    return value


def _codes(raw_codes: Sequence[str]) -> list[str]:
    return sorted({normalise_client_code(raw) for raw in raw_codes})


async def _lock_numbers(account_id: int, codes: list[str]) -> dict[str, int]:
    """Steps 1 and 2 of the lock order; the wanted codes' ids, `InvalidInput` naming a
    code not in the account."""
    found = await accounts.lock_account_access(account_id)
    for code in codes:
        if code not in found:
            raise InvalidInput(NOT_IN_ACCOUNT, client_code=code)
    return {code: found[code] for code in codes}


def _shared_user(row: db.Record) -> SharedUser:
    return SharedUser(
        id=row["id"],
        user_id=row["user_id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        language=row["language"],
        has_login=row["has_login"],
        client_codes=tuple(row["client_codes"]),
        until=row["access_until"],
        delivery_problem=(
            AddressProblem(row["problem_kind"], row["problem_since"])
            if row["problem_kind"]
            else None
        ),
    )


async def _one(account_id: int, shared_user_id: int) -> SharedUser:
    rows = await db.fetch(LIST_SQL, account_id, shared_user_id)
    if not rows:
        raise NotFound(NO_SUCH_SHARED_USER)
    return _shared_user(rows[0])


async def list_shared_users(user_id: int) -> list[SharedUser]:
    """The shared users of the account this user is main contact of."""
    manager = await _manager(user_id)
    return [_shared_user(row) for row in await db.fetch(LIST_SQL, manager.account_id, None)]


async def _regrant(
    manager: _Manager, shared: SharedUser, wanted: dict[str, int], *, ip: str
) -> list[str]:
    """The grants made exactly `wanted` (code → number id), each change an audit event;
    returns the codes newly granted."""
    held = {
        row["client_code"]: row["client_number_id"]
        for row in await db.fetch(GRANTED_SQL, shared.id)
    }
    detail = json.dumps({"shared_user_id": shared.id, "email": shared.email})
    who = (manager.user_id, manager.account_id, ip[:45], detail)
    revoked = [held[code] for code in set(held) - set(wanted)]
    if revoked:
        await db.execute(REVOKE_SQL, shared.id, revoked, *who)
    added = sorted(set(wanted) - set(held))
    if added:
        await db.execute(GRANT_SQL, shared.id, [wanted[code] for code in added], *who)
    return added


async def _event(
    kind: str,
    manager: _Manager,
    shared: SharedUser,
    *,
    ip: str,
) -> None:
    """An event about the shared user as a whole (the grants' own are written with
    them, `GRANT_SQL` / `REVOKE_SQL`)."""
    await accounts.record_audit_event(
        kind,
        actor_id=manager.user_id,
        account_id=manager.account_id,
        ip=ip,
        detail={"shared_user_id": shared.id, "email": shared.email},
    )


async def _tell(
    settings: Settings, manager: _Manager, shared: SharedUser, codes: list[str], *, invite: bool
) -> None:
    """The invitation (no password yet) or the short "shared with you" e-mail."""
    context: dict[str, object] = {
        "first_name": shared.first_name,
        "sharer": manager.name,
        "client_codes": ", ".join(codes),
        "base_url": settings.base_url,
    }
    if invite:
        context["link"] = await accounts.new_reset_link(
            settings, shared.user_id, INVITATION_LIFETIME
        )
        context["days"] = INVITATION_LIFETIME.days
    template = "shared_user_invitation" if invite else "shared_with_you"
    await queue_email(template, shared.email, shared.language, context, user_id=shared.user_id)


async def create_shared_user(
    settings: Settings,
    user_id: int,
    *,
    email: str,
    first_name: str,
    last_name: str,
    language: str,
    client_codes: Sequence[str],
    until: date | None = None,
    ip: str = "",
    now: datetime | None = None,
) -> SharedUser:
    """Let a person see these numbers of the account, until the end of `until` if given;
    `Conflict` if they already do."""
    manager = await _manager(user_id)
    address = email_address(email)
    first, last = _name(first_name, "first_name"), _name(last_name, "last_name")
    lang, codes, end = _language(language), _codes(client_codes), _until(until, now)
    async with db.transaction():
        wanted = await _lock_numbers(manager.account_id, codes)
        person = await db.fetchrow(FIND_USER_SQL, address)
        if person is None:
            # Created here, or a moment ago by another request: either way, no login.
            made = await db.fetchval(NEW_USER_SQL, address, first, last, lang)
            person_id = made or await db.fetchval(USER_ID_SQL, address)
            has_login = False
        else:
            person_id, has_login = person["id"], person["has_login"]
        if await db.fetchval(IS_MEMBER_SQL, manager.account_id, person_id):
            raise InvalidInput(NOT_YOURSELF)
        if await db.fetchval(ALREADY_SQL, manager.account_id, person_id):
            raise Conflict(ALREADY_SHARED, email=address)
        shared_user_id = await db.fetchval(
            NEW_SHARED_USER_SQL, manager.account_id, person_id, manager.user_id, end
        )
        shared = await _one(manager.account_id, shared_user_id)
        await _event("shared_user_created", manager, shared, ip=ip)
        await _regrant(manager, shared, wanted, ip=ip)
        await _tell(settings, manager, shared, codes, invite=not has_login)
        return await _one(manager.account_id, shared_user_id)


async def update_shared_user(
    settings: Settings,
    user_id: int,
    shared_user_id: int,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    language: str | None = None,
    client_codes: Sequence[str] | None = None,
    until: date | Keep | None = KEEP,
    ip: str = "",
    now: datetime | None = None,
) -> SharedUser:
    """Change what is given; `client_codes` replaces the ticked set; `until` sets,
    moves or (None) clears the end date. The name and language are the invitation's:
    once the person has a login they are theirs (`Conflict`)."""
    manager = await _manager(user_id)
    first = None if first_name is None else _name(first_name, "first_name")
    last = None if last_name is None else _name(last_name, "last_name")
    lang = None if language is None else _language(language)
    codes = None if client_codes is None else _codes(client_codes)
    end = until if isinstance(until, Keep) else _until(until, now)
    async with db.transaction():
        wanted = await _lock_numbers(manager.account_id, codes or [])
        shared = await _one(manager.account_id, shared_user_id)
        if (first, last, lang) != (None, None, None):
            if shared.has_login:
                raise Conflict(OWN_PROFILE)
            await db.execute(RENAME_SQL, shared.user_id, first, last, lang)
        if codes is not None:
            added = await _regrant(manager, shared, wanted, ip=ip)
            if added and shared.has_login:
                await _tell(settings, manager, shared, added, invite=False)
        if not isinstance(end, Keep) and end != shared.until:
            await db.execute(UNTIL_SQL, shared.id, end)
        await _event("shared_user_updated", manager, shared, ip=ip)
        return await _one(manager.account_id, shared_user_id)


async def delete_shared_user(user_id: int, shared_user_id: int, *, ip: str = "") -> None:
    """The person no longer sees anything of the account, from the next request on."""
    manager = await _manager(user_id)
    async with db.transaction():
        await _lock_numbers(manager.account_id, [])
        shared = await _one(manager.account_id, shared_user_id)
        await _regrant(manager, shared, {}, ip=ip)
        await db.execute(DELETE_SQL, shared.id)
        await _event("shared_user_deleted", manager, shared, ip=ip)
