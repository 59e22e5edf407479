"""Audit events: what a main contact may later want to know happened to their account.

Recorded by the services that act; read back, newest first, by the main contact
(their accounts' events) and by anyone (what they did themselves).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from iportal import db
from iportal.accounts.identifiers import normalise_client_code
from iportal.accounts.tables import AUDIT_KINDS, AuditEvent
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_
from iportal.pagination import BAD_CURSOR, clamp_limit, decode_cursor, encode_cursor


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
    as JSON."""
    await AuditEvent.insert(
        AuditEvent(
            kind=kind,
            actor=actor_id,
            account=account_id,
            client_number=client_number_id,
            document_id=document_id,
            ip=ip[:45],
            detail=dict(detail or {}),
        )
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


# What a user may read ($1): what they did themselves, and everything that happened to
# the accounts they are main contact of (events kept per account, or per client number
# while the number is in one of those accounts).
VISIBLE_SQL = """
SELECT e.id, e.at, e.kind, e.document_id, e.detail, u.email AS actor, c.client_code
  FROM audit_event e
  LEFT JOIN portal_user u ON u.id = e.actor_id
  LEFT JOIN client_number c ON c.id = e.client_number_id
 WHERE (e.actor_id = $1
        OR e.account_id IN (SELECT m.account_id FROM account_membership m
                             WHERE m.user_id = $1 AND m.role = 'main_contact')
        OR (e.account_id IS NULL AND e.client_number_id IN (
             SELECT c.id FROM client_number c
               JOIN account_membership m
                 ON m.account_id = c.account_id AND m.role = 'main_contact'
              WHERE m.user_id = $1)))
"""
# A client number of an account this user is main contact of.
OWN_CLIENT_NUMBER_SQL = """
SELECT c.id FROM client_number c
  JOIN account_membership m ON m.account_id = c.account_id AND m.role = 'main_contact'
 WHERE m.user_id = $1 AND c.client_code = $2
"""
NOT_YOURS = N_("None of your accounts holds client number %(client_code)s.")
UNKNOWN_KIND = N_("“%(kind)s” is not a kind of event. Use one of: %(kinds)s.")


async def _own_client_number(user_id: int, client_code: str) -> int:
    code = normalise_client_code(client_code)
    client_number_id = await db.fetchval(OWN_CLIENT_NUMBER_SQL, user_id, code)
    if client_number_id is None:
        raise NotFound(NOT_YOURS, client_code=code)
    return int(client_number_id)


def _after(cursor: str | None) -> tuple[datetime, int] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        at, event_id = key
        return datetime.fromisoformat(str(at)), int(event_id)
    except (TypeError, ValueError):
        raise InvalidInput(BAD_CURSOR) from None


async def audit_events(
    user_id: int,
    *,
    client_code: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> AuditPage:
    """The events a user may read, newest first, a keyset page at a time.

    A client code must be one of the numbers of the user's own accounts (`NotFound`
    otherwise, like a number that does not exist).
    """
    size = clamp_limit(limit)
    query = db.Statement(VISIBLE_SQL)
    query.bind(user_id)  # $1
    if client_code:
        own = await _own_client_number(user_id, client_code)
        query.add(f"AND e.client_number_id = {query.bind(own)}")
    if kind:
        if kind not in AUDIT_KINDS:
            raise InvalidInput(UNKNOWN_KIND, kind=kind, kinds=", ".join(AUDIT_KINDS))
        query.add(f"AND e.kind = {query.bind(kind)}")
    after = _after(cursor)
    if after is not None:
        query.add(f"AND (e.at, e.id) < ({query.bind(after[0])}, {query.bind(after[1])})")
    query.add(f"ORDER BY e.at DESC, e.id DESC LIMIT {query.bind(size + 1)}")
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
