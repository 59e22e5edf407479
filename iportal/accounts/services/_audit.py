"""Audit events: what a main contact may later want to know happened to their account.

Recorded by the services that act, inside their transaction; read back, newest first,
by the main contact of the account alone.

Which events belong to an account: every event recorded on the account, and every
event on one of its client numbers while the number was in it (the account is written
on the event when it is recorded, so a number that later moves keeps its past with the
account that had it). The main contact also reads what they did themselves (their
logins, password and token changes). A shared user's logins and what they read of
other accounts are never the account's: a main contact sees of them only what they did
with this account's numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from iportal import db
from iportal.accounts.identifiers import email_address, normalise_client_code
from iportal.accounts.tables import AUDIT_KINDS
from iportal.errors import Forbidden, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.pagination import BAD_CURSOR, clamp_limit, decode_cursor, encode_cursor

# One row per event; an event on a client number is the account's that holds it now.
RECORD_SQL = """
INSERT INTO audit_event (kind, actor_id, account_id, client_number_id, document_id, ip, detail)
VALUES ($1, $2, coalesce($3, (SELECT account_id FROM client_number WHERE id = $4)),
        $4, $5, $6, $7::jsonb)
"""


async def record_audit_event(
    kind: str,
    *,
    actor_id: int | None = None,
    account_id: int | None = None,
    client_number_id: int | None = None,
    document_id: int | None = None,
    ip: str = "",
    detail: Mapping[str, object] | None = None,
) -> None:
    """One event, inside the caller's transaction when there is one; `detail` is kept
    as JSON. An event on a client number is recorded on the account holding it."""
    await db.execute(
        RECORD_SQL,
        kind,
        actor_id,
        account_id,
        client_number_id,
        document_id,
        ip[:45],
        json.dumps(dict(detail or {}), default=str),
    )


@dataclass(frozen=True)
class AuditItem:
    at: datetime
    kind: str
    actor: str | None  # the e-mail address of who did it, when known
    client_code: str | None
    document_id: int | None
    detail: dict[str, object]  # the event's JSON, as recorded


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditItem]
    next_cursor: str | None


@dataclass(frozen=True)
class AuditFilters:
    """What the reader narrowed the events to; None is "any"."""

    client_number_id: int | None = None
    kind: str | None = None
    actor_id: int | None = None


MAIN_CONTACT_ONLY = N_("Only the main contact of an account can read its activity.")
NOT_YOURS = N_("None of your accounts holds client number %(client_code)s.")
UNKNOWN_KIND = N_("“%(kind)s” is not a kind of event. Use one of: %(kinds)s.")
# The accounts this user is main contact of.
ACCOUNTS_SQL = """
SELECT account_id FROM account_membership
 WHERE user_id = $1 AND role = 'main_contact' ORDER BY account_id
"""
OWN_CLIENT_NUMBER_SQL = """
SELECT id FROM client_number WHERE account_id = ANY($1::int[]) AND client_code = $2
"""
USER_BY_EMAIL_SQL = "SELECT id FROM portal_user WHERE email = $1"
COLUMNS = "e.id, e.at, e.kind, e.actor_id, e.client_number_id, e.document_id, e.detail"
# Each branch is one range of an index, newest first, cut at the page size: per account
# (account_id, [kind | client_number_id | actor_id,] at, id), and the reader's own
# events elsewhere (actor_id, [kind,] at, id). The outer sort sees at most a page per branch.
PAGE_SQL = """
SELECT e.id, e.at, e.kind, e.document_id, e.detail, u.email AS actor, c.client_code
  FROM ({branches}) e
  LEFT JOIN portal_user u ON u.id = e.actor_id
  LEFT JOIN client_number c ON c.id = e.client_number_id
 ORDER BY e.at DESC, e.id DESC LIMIT {limit}
"""
ACCOUNT_BRANCH = """
SELECT x.* FROM unnest({accounts}::int[]) AS a(id) CROSS JOIN LATERAL (
  SELECT {columns} FROM audit_event e
   WHERE e.account_id = a.id{conditions}
   ORDER BY e.at DESC, e.id DESC LIMIT {limit}) x
"""
OWN_BRANCH = """
(SELECT {columns} FROM audit_event e
  WHERE e.actor_id = {reader}
    AND (e.account_id IS NULL OR NOT e.account_id = ANY({accounts}::int[])){conditions}
  ORDER BY e.at DESC, e.id DESC LIMIT {limit})
"""


async def main_contact_accounts(user_id: int) -> list[int]:
    """The accounts whose events this user may read; `Forbidden` when none (a shared
    user, or someone without an account)."""
    accounts = [row["account_id"] for row in await db.fetch(ACCOUNTS_SQL, user_id)]
    if not accounts:
        raise Forbidden(MAIN_CONTACT_ONLY)
    return accounts


async def _filters(
    accounts: list[int], client_code: str | None, kind: str | None, actor: str | None
) -> AuditFilters | None:
    """The filters as ids; None when they can match nothing (an actor unknown to the
    portal: answered like an actor who did nothing, so that it tells nobody who exists)."""
    if kind and kind not in AUDIT_KINDS:
        raise InvalidInput(UNKNOWN_KIND, kind=kind, kinds=", ".join(AUDIT_KINDS))
    number_id = None
    if client_code:
        code = normalise_client_code(client_code)
        number_id = await db.fetchval(OWN_CLIENT_NUMBER_SQL, accounts, code)
        if number_id is None:
            raise NotFound(NOT_YOURS, client_code=code)
    actor_id = None
    if actor:
        actor_id = await db.fetchval(USER_BY_EMAIL_SQL, email_address(actor))
        if actor_id is None:
            return None
    return AuditFilters(number_id, kind or None, actor_id)


def _after(cursor: str | None) -> tuple[datetime, int] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        at, event_id = key
        return datetime.fromisoformat(str(at)), int(event_id)
    except (TypeError, ValueError):
        raise InvalidInput(BAD_CURSOR) from None


def page_query(
    reader_id: int,
    accounts: list[int],
    filters: AuditFilters,
    after: tuple[datetime, int] | None,
    size: int,
) -> db.Statement:
    """The statement of one page of events (newest first), `size` + 1 rows at most."""
    query = db.Statement()
    accounts_ = query.bind(accounts)
    limit = query.bind(size + 1)
    conditions = ""
    for column, value in (
        ("e.kind", filters.kind),
        ("e.client_number_id", filters.client_number_id),
        ("e.actor_id", filters.actor_id),
    ):
        if value is not None:
            conditions += f" AND {column} = {query.bind(value)}"
    if after is not None:
        conditions += f" AND (e.at, e.id) < ({query.bind(after[0])}, {query.bind(after[1])})"
    values = {"columns": COLUMNS, "accounts": accounts_, "conditions": conditions, "limit": limit}
    branches = ACCOUNT_BRANCH.format(**values)
    # The reader's own events outside their accounts are never on one of their numbers.
    if filters.client_number_id is None and filters.actor_id in (None, reader_id):
        own = OWN_BRANCH.format(**values, reader=query.bind(reader_id))
        branches += f"UNION ALL {own}"
    query.add(PAGE_SQL.format(branches=branches, limit=limit))
    return query


async def audit_events(
    user_id: int,
    *,
    client_code: str | None = None,
    kind: str | None = None,
    actor: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> AuditPage:
    """The events of the accounts this user is main contact of (and their own), newest
    first, a keyset page at a time. `Forbidden` for anyone who is main contact of no
    account. A client code must be one of the numbers of those accounts (`NotFound`
    otherwise, like a number that does not exist); `actor` is an e-mail address."""
    accounts = await main_contact_accounts(user_id)
    size = clamp_limit(limit)
    after = _after(cursor)
    filters = await _filters(accounts, client_code, kind, actor)
    if filters is None:
        return AuditPage([], None)
    query = page_query(user_id, accounts, filters, after, size)
    rows = await db.fetch(query.text, *query.args)
    items = [
        AuditItem(
            at=row["at"],
            kind=row["kind"],
            actor=row["actor"],
            client_code=row["client_code"],
            document_id=row["document_id"],
            detail=json.loads(row["detail"]) if isinstance(row["detail"], str) else row["detail"],
        )
        for row in rows[:size]
    ]
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = encode_cursor([last["at"].isoformat(), last["id"]])
    return AuditPage(items, next_cursor)
