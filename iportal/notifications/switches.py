"""Each person's own switch per client number, and the one-click unsubscribe links.

A person who sees a number (as its main contact or as a shared user) is told of its
new documents unless they switched them off for themselves: a `notice_opt_out` row.
Nobody else's switch changes with theirs.

Every notice carries `List-Unsubscribe` (RFC 8058) with a link naming the person and
the e-mail's client numbers (beyond `MAX_NAMED` numbers, which would make the header
longer than a mail line may be, it names all the numbers the person sees: "stop
these e-mails"); each number in the body has a link of its own. The link's token is
signed with the installation's secret (HMAC-SHA256), so it cannot be guessed, forged
or changed to name another person or number; it is not stored, and it keeps working
for old e-mails. Following it with GET only shows a button (mail scanners fetch
links); the POST switches off.
"""

from __future__ import annotations

import binascii
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Iterable
from dataclasses import dataclass

from iportal import db
from iportal.errors import NotFound
from iportal.i18n import N_
from iportal.security import keyed_hash, same
from iportal.settings import Settings

TOKEN_PURPOSE = "notice-unsubscribe"  # noqa: S105 - a hash purpose, not a secret
MAC_LENGTH = 32  # hex characters: 128 bits
MAX_TOKEN_LENGTH = 1000
MAX_NAMED = 20
EVERY_NUMBER = "*"
UNKNOWN_LINK = N_("This link is not valid. Open the portal to choose your e-mails.")

SWITCH_OFF_SQL = """
INSERT INTO notice_opt_out (user_id, client_number_id)
SELECT v.user_id, v.client_number_id FROM visible_client_number v
 WHERE v.user_id = $1 AND v.client_number_id = ANY($2::int[])
ON CONFLICT (user_id, client_number_id) DO NOTHING
"""
SWITCH_ALL_OFF_SQL = """
INSERT INTO notice_opt_out (user_id, client_number_id)
SELECT v.user_id, v.client_number_id FROM visible_client_number v WHERE v.user_id = $1
ON CONFLICT (user_id, client_number_id) DO NOTHING
"""
SWITCH_ON_SQL = """
DELETE FROM notice_opt_out WHERE user_id = $1 AND client_number_id = ANY($2::int[])
"""
SWITCHED_OFF_SQL = "SELECT client_number_id FROM notice_opt_out WHERE user_id = $1"
SWITCHES_SQL = """
SELECT v.client_number_id AS id, v.client_code, v.company_name,
       NOT EXISTS (SELECT 1 FROM notice_opt_out o
                    WHERE o.user_id = v.user_id AND o.client_number_id = v.client_number_id)
       AS enabled
  FROM visible_client_number v
 WHERE v.user_id = $1 AND still_visible(v.access_ends_at)
 ORDER BY v.client_code
"""
CODES_SQL = "SELECT client_code FROM client_number WHERE id = ANY($1::int[]) ORDER BY client_code"
ALL_CODES_SQL = (
    "SELECT client_code FROM visible_client_number "
    "WHERE user_id = $1 AND still_visible(access_ends_at) ORDER BY client_code"
)


@dataclass(frozen=True)
class NoticeSwitch:
    """One number a person sees and whether they are told of its new documents."""

    id: int
    client_code: str
    company_name: str
    enabled: bool


@dataclass(frozen=True)
class Unsubscription:
    """What an unsubscribe link names: some numbers, or every one the person sees."""

    user_id: int
    client_number_ids: tuple[int, ...]
    every_number: bool = False


def _mac(key: str, body: str) -> str:
    return keyed_hash(key, body, purpose=TOKEN_PURPOSE)[:MAC_LENGTH]


def unsubscribe_token(key: str, user_id: int, client_number_ids: Iterable[int]) -> str:
    ids = sorted(set(client_number_ids))
    named = EVERY_NUMBER if len(ids) > MAX_NAMED else ",".join(str(i) for i in ids)
    payload = f"{user_id}:{named}"
    body = urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    return f"{body}.{_mac(key, body)}"


def read_unsubscribe_token(key: str, token: str) -> Unsubscription | None:
    """Whom and which numbers a token names; None when it is not one we signed."""
    body, _, mac = token.partition(".")
    if len(token) > MAX_TOKEN_LENGTH or not body or not same(mac, _mac(key, body)):
        return None
    try:
        payload = urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        user, _, numbers = payload.partition(":")
        if numbers == EVERY_NUMBER:
            return Unsubscription(int(user), (), every_number=True)
        return Unsubscription(int(user), tuple(int(n) for n in numbers.split(",")))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def unsubscribe_url(settings: Settings, user_id: int, client_number_ids: Iterable[int]) -> str:
    token = unsubscribe_token(settings.secret_key, user_id, client_number_ids)
    return f"{settings.base_url.rstrip('/')}/unsubscribe/{token}"


def _named(settings: Settings, token: str) -> Unsubscription:
    named = read_unsubscribe_token(settings.secret_key, token)
    if named is None:
        raise NotFound(UNKNOWN_LINK)
    return named


async def unsubscribe_codes(settings: Settings, token: str) -> list[str]:
    """The client codes a link names (`NotFound` for a link we did not sign)."""
    named = _named(settings, token)
    if named.every_number:
        rows = await db.fetch(ALL_CODES_SQL, named.user_id)
    else:
        rows = await db.fetch(CODES_SQL, list(named.client_number_ids))
    return [row["client_code"] for row in rows]


async def unsubscribe(settings: Settings, token: str) -> list[str]:
    """Switch off the person's notices for the link's numbers (those they still see);
    returns the client codes named. Following it twice changes nothing more."""
    named = _named(settings, token)
    if named.every_number:
        await db.execute(SWITCH_ALL_OFF_SQL, named.user_id)
    else:
        await db.execute(SWITCH_OFF_SQL, named.user_id, list(named.client_number_ids))
    return await unsubscribe_codes(settings, token)


async def switch_notices(user_id: int, client_number_id: int, enabled: bool) -> None:
    """The person's own switch for one number they see (the caller checked they do)."""
    await db.execute(SWITCH_ON_SQL if enabled else SWITCH_OFF_SQL, user_id, [client_number_id])


async def switched_off(user_id: int) -> frozenset[int]:
    """The numbers whose notices this person switched off for themselves."""
    return frozenset(row["client_number_id"] for row in await db.fetch(SWITCHED_OFF_SQL, user_id))


async def notice_switches(user_id: int) -> list[NoticeSwitch]:
    """Every number the person sees, by client code, with their own switch."""
    return [NoticeSwitch(**row) for row in await db.fetch(SWITCHES_SQL, user_id)]


async def set_notice_switches(user_id: int, shown: Iterable[str], enabled: Iterable[str]) -> None:
    """The settings form: of the client codes `shown` to the person, those in `enabled`
    are on and the others off; numbers not shown (added meanwhile) keep their switch."""
    on, shown_codes = set(enabled), set(shown)
    async with db.transaction():
        for switch in await notice_switches(user_id):
            if switch.client_code in shown_codes and switch.enabled != (switch.client_code in on):
                await switch_notices(user_id, switch.id, switch.client_code in on)
