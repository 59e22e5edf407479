"""What the main contact of an account does with its client numbers: add one with a
further activation code, opt a number out (back to paper). (Who is told of a number's
new documents is each person's own switch: `iportal.notifications`.)

Each write checks in its own statement that the user is the main contact of the
number's account. Which numbers a user sees, and as what, is `iportal.sharing`'s:
its "my client numbers" calls these.
"""

from __future__ import annotations

from iportal import clock, db
from iportal.accounts.services._access_lock import lock_account_access
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
from iportal.accounts.tables import PortalUser
from iportal.errors import Conflict, NotFound
from iportal.i18n import N_
from iportal.settings import Settings

NOT_YOURS = N_("Client number %(client_code)s is not one of yours.")

# The write touches a number only in an account whose main contact the user is.

# The account a number is in, when the user is its main contact.
MANAGED_NUMBER_ACCOUNT_SQL = """
SELECT cn.account_id FROM client_number cn
  JOIN account_membership m ON m.account_id = cn.account_id AND m.role = 'main_contact'
 WHERE cn.client_code = $2 AND m.user_id = $1
"""

# Back to paper; `before` gives the account the number leaves, for the audit event.
OPT_OUT_SQL = """
UPDATE client_number AS cn
   SET account_id = NULL, delivery_channel = 'paper', activated_at = NULL, updated_at = $3
  FROM client_number AS before
 WHERE before.id = cn.id AND cn.client_code = $2 AND cn.account_id IN (
       SELECT account_id FROM account_membership WHERE user_id = $1 AND role = 'main_contact')
RETURNING cn.id, before.account_id
"""


async def opt_out(user_id: int, client_code: str, *, ip: str = "") -> int:
    """Back to paper: the number leaves the account the user is main contact of (audited
    as `opted_out`); `NotFound` for any other number, or one that just left. Returns the
    number's id."""
    async with db.transaction():
        account_id = await db.fetchval(MANAGED_NUMBER_ACCOUNT_SQL, user_id, client_code)
        if account_id is not None:  # the lock order of every access change
            await lock_account_access(account_id)
        left = await db.fetchrow(OPT_OUT_SQL, user_id, client_code, clock.utcnow())
        if left is None:  # not theirs, or opted out at the same time in another window
            raise NotFound(NOT_YOURS, client_code=client_code)
        await record_audit_event(
            "opted_out",
            actor_id=user_id,
            account_id=left["account_id"],
            client_number_id=left["id"],
            ip=ip,
            detail={"client_code": client_code},
        )
    client_number_id: int = left["id"]
    return client_number_id


async def add_client_number(
    settings: Settings, user_id: int, raw_code: str, *, ip: str = ""
) -> str:
    """A further activation code, entered by a logged-in user: its number joins the
    account they are main contact of (a new account of theirs when they have none, with
    the login that number gives), with the same password. Refused like at registration:
    unknown 404; used, replaced or expired 410; active in an account 409. Returns the
    number's client code."""
    tried = await attempt(bucket("activation", "ip", ip))
    state = await code_state(raw_code, settings)
    accounts = await main_contact_accounts(user_id)
    refuse_unusable(state, tuple(account.id for account in accounts))
    async with db.transaction():
        if accounts:
            account_id = accounts[0].id
        else:
            user = await PortalUser.select(PortalUser.email).where(PortalUser.id == user_id).first()
            kind, login = login_for(state, str(user["email"]) if user else "")
            created = await create_account(kind, login, user_id)
            if created is None:
                raise Conflict(LOGIN_TAKEN, login=login, client_code=state.client_code)
            account_id = created
        await redeem_and_opt_in(state, user_id=user_id, account_id=account_id, ip=ip)
    await succeeded(tried)
    return state.client_code
