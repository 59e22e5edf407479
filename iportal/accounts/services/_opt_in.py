"""Opting a client number in: the rules registration and "add a number" share.

An activation code opts its number in when it is unused, its number is in no
account, it is the latest code issued for that number and it is less than 15
weeks old. Each refusal has its own message and status:

- unknown code: 404;
- already used: 410 (the code is spent for good, like an expired one; the number
  may meanwhile have been opted out, so "active elsewhere" would not be true);
- number active in an account: 409 (another account, or the caller's own);
- replaced by a newer code of the same number: 410 (only the latest code counts,
  also when re-activating after an opt-out);
- expired: 410.

Guessing a code is useless, by entropy and throttling together: a code carries
about 79 bits (16 symbols of 31, 6·10^23 possible codes) and every failed check,
start or activation counts against the caller's address (10 per 15 minutes, 35,040
a year). Even with a million live codes, one address has less than one chance in
10^13 a year of hitting any of them.

Logins: the account's login is chosen when the account is created, from its
first client number:

- a Belgian enterprise number → that number (`BE0123456789`), a **B2B** account;
- no enterprise number but a foreign VAT number among the number's aliases (how
  the issuer tells us the client is outside Belgium: `NL004495445B01`, also as a
  Peppol id `9944:NL004495445B01`), its check digits right → that VAT number,
  compact and in capitals, the client's unique identifier; a **B2C** account, as
  the design asks;
- otherwise the e-mail address of the person registering; a **B2C** account.

Numbers added later join the account whatever they carry: the account keeps its
kind and login (the main contact can always log in with their e-mail too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iportal import clock, db
from iportal.accounts.identifiers import foreign_vat_number
from iportal.accounts.services._access_lock import lock_account_access
from iportal.accounts.services._activation_codes import find_activation_code
from iportal.accounts.services._audit import record_audit_event
from iportal.errors import Conflict, DomainError, Gone, InvalidInput, NotFound
from iportal.i18n import N_
from iportal.settings import Settings

UNKNOWN_CODE = N_(
    "This activation code is not known. Please check it against your letter or e-mail."
)
CODE_USED = N_(
    "This activation code has already been used: each code works once. If you opted in "
    "with it, log in; to activate again, use the code of your latest letter or e-mail."
)
CODE_EXPIRED = N_(
    "This activation code has expired: a code is valid 15 weeks. Please use the code of "
    "your latest letter or e-mail, or ask for a new one."
)
CODE_REPLACED = N_(
    "A newer activation code has been issued for client number %(client_code)s and only "
    "the latest one counts. Please use the code of your latest letter or e-mail."
)
ACTIVE_ELSEWHERE = N_(
    "Client number %(client_code)s is already active in another account. A client number "
    "can be in one account only: please ask the main contact of that account."
)
ALREADY_YOURS = N_("Client number %(client_code)s is already in your account.")
CODE_REQUIRED = N_("Please enter your activation code.")
LOGIN_TAKEN = N_(
    "There is already an account with the login %(login)s. Its main contact can add "
    "client number %(client_code)s to it by entering this code."
)
CHANGED_MEANWHILE = N_("Something changed at the same time in another window. Please try again.")

# A code, whether a newer one replaced it, its client number and the number's aliases.
CODE_STATE_SQL = """
SELECT a.id, a.client_number_id, a.expires_at, a.redeemed_at,
       EXISTS (SELECT 1 FROM activation_code n
                WHERE n.client_number_id = a.client_number_id AND n.id > a.id) AS replaced,
       c.client_code, c.company_name, c.enterprise_number, c.email, c.first_name,
       c.last_name, c.language, c.account_id,
       ARRAY(SELECT reference FROM client_number_alias WHERE client_number_id = c.id
              ORDER BY id) AS aliases
  FROM activation_code a JOIN client_number c ON c.id = a.client_number_id
 WHERE a.id = $1
"""
# The code consumed ($1: now), only while it is unused, unexpired and the latest one.
REDEEM_SQL = """
UPDATE activation_code AS a SET redeemed_at = $1, redeemed_by_id = $2
 WHERE a.id = $3 AND a.redeemed_at IS NULL AND a.expires_at > $1
   AND NOT EXISTS (SELECT 1 FROM activation_code n
                    WHERE n.client_number_id = a.client_number_id AND n.id > a.id)
RETURNING a.id, a.client_number_id
"""

# The number into the account ($2: now), only when it is in none.
OPT_IN_SQL = """
UPDATE client_number
   SET account_id = $1, delivery_channel = 'electronic', activated_at = $2, updated_at = $2
 WHERE id = $3 AND account_id IS NULL
RETURNING id
"""
MAIN_CONTACT_ACCOUNTS_SQL = """
SELECT a.id, a.kind, a.login FROM account a
  JOIN account_membership m ON m.account_id = a.id AND m.role = 'main_contact'
 WHERE m.user_id = $1
 ORDER BY a.id
"""
# A new account and its main contact ($3), in one statement; no row when the login
# was taken meanwhile.
NEW_ACCOUNT_SQL = """
WITH created AS (
    INSERT INTO account (kind, login) VALUES ($1, $2)
    ON CONFLICT (login) DO NOTHING RETURNING id
), membership AS (
    INSERT INTO account_membership (account_id, user_id, role)
    SELECT id, $3, 'main_contact' FROM created
)
SELECT id FROM created
"""


@dataclass(frozen=True)
class CodeState:
    """An activation code and its client number, as they are now."""

    code_id: int
    client_number_id: int
    client_code: str
    company_name: str
    enterprise_number: str | None
    email: str
    first_name: str
    last_name: str
    language: str
    account_id: int | None
    expires_at: datetime
    redeemed: bool
    replaced: bool
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class AccountRef:
    """An account as its main contact knows it: its kind and its login."""

    id: int
    kind: str
    login: str


def vat_number_among(aliases: Sequence[str]) -> str | None:
    """The first alias that is a foreign VAT number with the right check digits, compact
    and in capitals (`nl 0044.95445.B01` → `NL004495445B01`); None when there is none."""
    for alias in aliases:
        vat_number = foreign_vat_number(alias)
        if vat_number:
            return vat_number
    return None


def login_for(state: CodeState, email: str) -> tuple[str, str]:
    """(kind, login) of a new account opened with this number by the person at `email`."""
    if state.enterprise_number:
        return "b2b", state.enterprise_number
    vat_number = vat_number_among(state.aliases)
    if vat_number:
        return "b2c", vat_number
    return "b2c", email


async def code_state_by_id(code_id: int) -> CodeState:
    """The code's state by its id; `NotFound` when there is no such code."""
    row = await db.fetchrow(CODE_STATE_SQL, code_id)
    if row is None:
        raise NotFound(UNKNOWN_CODE)
    return CodeState(
        code_id=row["id"],
        client_number_id=row["client_number_id"],
        client_code=row["client_code"],
        company_name=row["company_name"],
        enterprise_number=row["enterprise_number"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        language=row["language"],
        account_id=row["account_id"],
        expires_at=row["expires_at"],
        redeemed=row["redeemed_at"] is not None,
        replaced=bool(row["replaced"]),
        aliases=tuple(row["aliases"] or ()),
    )


async def code_state(raw_code: str, settings: Settings) -> CodeState:
    """The code's state, whatever it is; `NotFound` for a code never issued (or not even
    well-formed: the same answer, so that nothing tells the two apart)."""
    if not (raw_code or "").strip():
        raise InvalidInput(CODE_REQUIRED)
    found = await find_activation_code(settings, raw_code)
    if found is None:
        raise NotFound(UNKNOWN_CODE)
    return await code_state_by_id(found.id)


def refusal(state: CodeState, own_account_ids: tuple[int, ...] = ()) -> DomainError | None:
    """Why this code cannot opt its number in now, or None when it can."""
    if state.redeemed:
        return Gone(CODE_USED)
    if state.account_id is not None:
        if state.account_id in own_account_ids:
            return Conflict(ALREADY_YOURS, client_code=state.client_code)
        return Conflict(ACTIVE_ELSEWHERE, client_code=state.client_code)
    if state.replaced:
        return Gone(CODE_REPLACED, client_code=state.client_code)
    if state.expires_at <= clock.utcnow():
        return Gone(CODE_EXPIRED)
    return None


def refuse_unusable(state: CodeState, own_account_ids: tuple[int, ...] = ()) -> None:
    error = refusal(state, own_account_ids)
    if error is not None:
        raise error


async def redeem_and_opt_in(
    state: CodeState, *, user_id: int, account_id: int, ip: str
) -> datetime:
    """Inside the caller's transaction: consume the code with one conditional UPDATE (of
    two requests at once, exactly one wins), then opt the number in, only if it is in no
    account. Any refusal raises, so that the caller's transaction leaves nothing behind."""
    # The lock order of every access change: the account, then its numbers and this one.
    await lock_account_access(account_id, joining=[state.client_number_id])
    now = clock.utcnow()
    redeemed = await db.fetchrow(REDEEM_SQL, now, user_id, state.code_id)
    if redeemed is None:
        # Tell why from what is committed now: used, replaced or expired meanwhile.
        refuse_unusable(await code_state_by_id(state.code_id))
        raise Conflict(CHANGED_MEANWHILE)
    opted_in = await db.fetchval(OPT_IN_SQL, account_id, now, state.client_number_id)
    if opted_in is None:
        raise Conflict(ACTIVE_ELSEWHERE, client_code=state.client_code)
    common: dict[str, Any] = {
        "actor_id": user_id,
        "account_id": account_id,
        "client_number_id": state.client_number_id,
        "ip": ip,
    }
    await record_audit_event("code_redeemed", detail={"client_code": state.client_code}, **common)
    await record_audit_event("opted_in", detail={"client_code": state.client_code}, **common)
    return now


async def main_contact_accounts(user_id: int) -> list[AccountRef]:
    """The accounts this user is main contact of, oldest first."""
    return [AccountRef(**row) for row in await db.fetch(MAIN_CONTACT_ACCOUNTS_SQL, user_id)]


async def create_account(kind: str, login: str, main_contact_id: int) -> int | None:
    """A new account with its main contact; None when the login was taken meanwhile."""
    account_id = await db.fetchval(NEW_ACCOUNT_SQL, kind, login, main_contact_id)
    return None if account_id is None else int(account_id)
