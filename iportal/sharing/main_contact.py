"""Handing the main contact role of a B2B account to one of its shared users.

The main contact asks; two single-use links, valid five days, go out by e-mail: one to
them, one to the chosen person (who must log in already and be a shared user of this
account). When both have confirmed, one transaction moves the role: the account's
membership goes to the new person, whose shared-user row goes; the former main contact
becomes a shared user with every number of the account ticked, so that they lose
nothing; the audit records it and both are told. The database's triggers keep what
each person sees (`visible_client_number`, `visible_document`) in step.

Only the keyed hash of each link's token is stored. A link is consumed atomically
(`UPDATE … WHERE … IS NULL RETURNING`); a newer request cancels the pending one. Lock
order, as in `shared_users`: the `account` row, then its `client_number` rows in id
order, then the rows of people and grants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from iportal import clock, db
from iportal.accounts import services as accounts
from iportal.errors import Conflict, Forbidden, Gone, NotFound
from iportal.i18n import N_
from iportal.notifications.services import queue_email
from iportal.security import keyed_hash, new_token
from iportal.settings import Settings
from iportal.sharing.shared_users import (
    B2B_MAIN_CONTACT_ONLY,
    NO_SUCH_SHARED_USER,
)

HANDOVER_LIFETIME = timedelta(days=5)
PURPOSE = "main-contact-handover"
NO_LOGIN_YET = N_(
    "%(email)s has not chosen a password yet: the role can only go to someone who logs in."
)
LINK_NOT_VALID = N_(
    "This link is not valid any more: it was already used, it has expired, or a newer "
    "request replaced it."
)
NO_LONGER_POSSIBLE = N_(
    "The role can no longer move as asked: the account's main contact or its shared "
    "users changed since. The main contact can ask again."
)

# The B2B account this user is main contact of (the lowest id if several), and who they are.
MAIN_CONTACT_SQL = """
SELECT a.id, a.kind, a.login, u.email, u.first_name, u.last_name, u.language
  FROM account_membership m
  JOIN account a ON a.id = m.account_id
  JOIN portal_user u ON u.id = m.user_id
 WHERE m.user_id = $1 AND m.role = 'main_contact'
 ORDER BY a.id LIMIT 1
"""
SHARED_USER_SQL = """
SELECT su.id, su.user_id, u.email, u.first_name, u.last_name, u.language,
       u.password_hash IS NOT NULL AS has_login
  FROM shared_user su JOIN portal_user u ON u.id = su.user_id
 WHERE su.id = $1 AND su.account_id = $2
"""
CANCEL_PENDING_SQL = """
UPDATE main_contact_handover SET cancelled_at = $2
 WHERE account_id = $1 AND completed_at IS NULL AND cancelled_at IS NULL
"""
NEW_HANDOVER_SQL = """
INSERT INTO main_contact_handover
       (account_id, from_user_id, to_user_id, from_token_hash, to_token_hash, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
"""
FIND_SQL = """
SELECT id, account_id FROM main_contact_handover
 WHERE from_token_hash = $1 OR to_token_hash = $1
"""
VALID_SQL = """
SELECT 1 FROM main_contact_handover
 WHERE ((from_token_hash = $1 AND from_confirmed_at IS NULL)
        OR (to_token_hash = $1 AND to_confirmed_at IS NULL))
   AND completed_at IS NULL AND cancelled_at IS NULL AND expires_at > $2
"""
# Consumes one of the two links, once, while the request is pending and not expired.
CONFIRM_SQL = """
UPDATE main_contact_handover
   SET from_confirmed_at = CASE WHEN from_token_hash = $2 THEN $3 ELSE from_confirmed_at END,
       to_confirmed_at = CASE WHEN to_token_hash = $2 THEN $3 ELSE to_confirmed_at END
 WHERE id = $1 AND completed_at IS NULL AND cancelled_at IS NULL AND expires_at > $3
   AND ((from_token_hash = $2 AND from_confirmed_at IS NULL)
        OR (to_token_hash = $2 AND to_confirmed_at IS NULL))
RETURNING account_id, from_user_id, to_user_id, from_token_hash = $2 AS giving,
          from_confirmed_at IS NOT NULL AND to_confirmed_at IS NOT NULL AS both
"""
PERSON_SQL = "SELECT id, email, first_name, last_name, language FROM portal_user WHERE id = $1"
LOGIN_SQL = "SELECT login FROM account WHERE id = $1"
CURRENT_MAIN_CONTACT_SQL = """
SELECT user_id FROM account_membership WHERE account_id = $1 AND role = 'main_contact'
"""
SHARED_ROW_SQL = "SELECT id FROM shared_user WHERE account_id = $1 AND user_id = $2"
DROP_SHARED_SQL = "DELETE FROM shared_user WHERE id = $1"
MOVE_ROLE_SQL = """
UPDATE account_membership SET user_id = $2
 WHERE account_id = $1 AND role = 'main_contact' AND user_id = $3
"""
NEW_SHARED_SQL = """
INSERT INTO shared_user (account_id, user_id, created_by_id) VALUES ($1, $2, $3) RETURNING id
"""
GRANT_ALL_SQL = """
INSERT INTO client_number_grant (shared_user_id, client_number_id)
SELECT $1, id FROM client_number WHERE account_id = $2
"""
COMPLETE_SQL = "UPDATE main_contact_handover SET completed_at = $2 WHERE id = $1"


@dataclass(frozen=True)
class HandoverAsked:
    email: str  # the person the role goes to
    expires_at: datetime


@dataclass(frozen=True)
class HandoverConfirmed:
    giving: bool  # True for the current main contact's link, False for the new one's
    completed: bool  # both have confirmed: the role has moved
    account_login: str


@dataclass(frozen=True)
class _Person:
    id: int
    email: str
    name: str
    language: str


def _person(person_id: int, row: db.Record | None) -> _Person:
    assert row is not None  # a person of the account, read under its lock
    name = f"{row['first_name']} {row['last_name']}".strip() or row["email"]
    return _Person(person_id, row["email"], name, row["language"])


def token_hash(settings: Settings, token: str) -> str:
    return keyed_hash(settings.secret_key, token, purpose=PURPOSE)


def confirm_link(settings: Settings, token: str) -> str:
    query = urlencode({"token": token})
    return f"{settings.base_url.rstrip('/')}/account/main-contact/confirm?{query}"


async def request_handover(
    settings: Settings,
    user_id: int,
    shared_user_id: int,
    *,
    ip: str = "",
    now: datetime | None = None,
) -> HandoverAsked:
    """Asks both people to confirm; `Forbidden` unless the user is main contact of a B2B
    account, `NotFound` for a shared user of another account (or none), `Conflict` for
    one who has no login yet. A pending request of the account is replaced."""
    row = await db.fetchrow(MAIN_CONTACT_SQL, user_id)
    if row is None or row["kind"] != "b2b":
        raise Forbidden(B2B_MAIN_CONTACT_ONLY)
    account_id, giver = row["id"], _person(user_id, row)
    if not 0 < shared_user_id < 2**31:  # beyond the column: nobody, like any other id
        raise NotFound(NO_SUCH_SHARED_USER)
    now = now or clock.utcnow()
    expires_at = now + HANDOVER_LIFETIME
    async with db.transaction():
        await accounts.lock_account_access(account_id)  # steps 1 and 2 of the lock order
        shared = await db.fetchrow(SHARED_USER_SQL, shared_user_id, account_id)
        if shared is None:
            raise NotFound(NO_SUCH_SHARED_USER)
        if not shared["has_login"]:
            raise Conflict(NO_LOGIN_YET, email=shared["email"])
        taker = _person(shared["user_id"], shared)
        await db.execute(CANCEL_PENDING_SQL, account_id, now)
        tokens = {"giver": new_token(), "taker": new_token()}
        await db.execute(
            NEW_HANDOVER_SQL,
            account_id,
            giver.id,
            taker.id,
            token_hash(settings, tokens["giver"]),
            token_hash(settings, tokens["taker"]),
            expires_at,
        )
        await accounts.record_audit_event(
            "main_contact_handover_requested",
            actor_id=giver.id,
            account_id=account_id,
            ip=ip,
            detail={"from": giver.email, "to": taker.email},
        )
        for person, other, token, giving in (
            (giver, taker, tokens["giver"], True),
            (taker, giver, tokens["taker"], False),
        ):
            context = {
                "first_name": person.name,
                "other": other.name,
                "account_login": row["login"],
                "link": confirm_link(settings, token),
                "days": HANDOVER_LIFETIME.days,
                "giving": giving,
            }
            await queue_email(
                "main_contact_handover", person.email, person.language, context, user_id=person.id
            )
    return HandoverAsked(taker.email, expires_at)


async def handover_link_is_valid(settings: Settings, token: str) -> bool:
    """Whether this link may still confirm (for the page that shows its button)."""
    if not token:
        return False
    digest = token_hash(settings, token)
    return bool(await db.fetchval(VALID_SQL, digest, clock.utcnow()))


async def confirm_handover(
    settings: Settings, token: str, *, ip: str = "", now: datetime | None = None
) -> HandoverConfirmed:
    """Consumes one link; the second confirmation moves the role. `Gone` for a link
    used, expired, replaced or unknown, and when the role can no longer move as asked."""
    now = now or clock.utcnow()
    digest = token_hash(settings, token or "-")
    found = await db.fetchrow(FIND_SQL, digest)
    if found is None:
        raise Gone(LINK_NOT_VALID)
    async with db.transaction():
        # Steps 1 and 2 of the lock order; the numbers as they are once locked.
        numbers = await accounts.lock_account_access(found["account_id"])
        claimed = await db.fetchrow(CONFIRM_SQL, found["id"], digest, now)
        if claimed is None:
            raise Gone(LINK_NOT_VALID)
        giver_id, taker_id = claimed["from_user_id"], claimed["to_user_id"]
        await accounts.record_audit_event(
            "main_contact_handover_confirmed",
            actor_id=giver_id if claimed["giving"] else taker_id,
            account_id=claimed["account_id"],
            ip=ip,
        )
        if claimed["both"]:
            ids = (found["id"], claimed["account_id"], giver_id, taker_id)
            await _hand_over(settings, *ids, list(numbers), ip=ip, now=now)
        login = await db.fetchval(LOGIN_SQL, claimed["account_id"])
    return HandoverConfirmed(claimed["giving"], claimed["both"], login)


async def _hand_over(
    settings: Settings,
    handover_id: int,
    account_id: int,
    giver_id: int,
    taker_id: int,
    codes: list[str],
    *,
    ip: str,
    now: datetime,
) -> None:
    """The role moves, in the caller's transaction (the account and its numbers, in id
    order `codes`, already locked)."""
    taker_row = await db.fetchval(SHARED_ROW_SQL, account_id, taker_id)
    if await db.fetchval(CURRENT_MAIN_CONTACT_SQL, account_id) != giver_id or taker_row is None:
        raise Gone(NO_LONGER_POSSIBLE)
    await db.execute(DROP_SHARED_SQL, taker_row)
    await db.execute(MOVE_ROLE_SQL, account_id, taker_id, giver_id)
    giver_row = await db.fetchval(NEW_SHARED_SQL, account_id, giver_id, taker_id)
    await db.execute(GRANT_ALL_SQL, giver_row, account_id)
    await db.execute(COMPLETE_SQL, handover_id, now)
    giver = _person(giver_id, await db.fetchrow(PERSON_SQL, giver_id))
    taker = _person(taker_id, await db.fetchrow(PERSON_SQL, taker_id))
    await accounts.record_audit_event(
        "main_contact_handed_over",
        actor_id=taker_id,
        account_id=account_id,
        ip=ip,
        detail={"from": giver.email, "to": taker.email, "client_codes": codes},
    )
    login = await db.fetchval(LOGIN_SQL, account_id)
    for person, other, giving in ((giver, taker, True), (taker, giver, False)):
        context = {
            "first_name": person.name,
            "other": other.name,
            "account_login": login,
            "client_codes": ", ".join(codes),
            "giving": giving,
            "base_url": settings.base_url,
        }
        await queue_email(
            "main_contact_handed_over", person.email, person.language, context, user_id=person.id
        )
