"""Registration in three steps: (1) the activation code, with the company name and the
e-mail address confirmed (the address may be corrected); (2) a confirmation e-mail
with a single-use link valid 5 days; (3) the password. Then the account exists, the
person is its main contact and the number is opted in (paper stops).

One person, one password: when the confirmed address already belongs to a user
with a password, no second user is made. Step 3 then asks for that password, and
the number joins the account that user is main contact of (or a new account of
theirs, when they have none). Likewise, when the login the number would get
(enterprise number, foreign VAT number or e-mail) is already an account's login,
the number joins that account and step 3 asks for its main contact's password.

Every step is throttled per client address (see `_opt_in` for why guessing codes
is useless); a successful step withdraws its attempt. `start` answers the same
whatever the code: it sends an e-mail only for a code that can be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from iportal import clock, db
from iportal.accounts.identifiers import email_address, masked_email
from iportal.accounts.passwords import check_password
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._login_attempts import record_login_failure
from iportal.accounts.services._opt_in import (
    CHANGED_MEANWHILE,
    CodeState,
    code_state,
    code_state_by_id,
    create_account,
    login_for,
    main_contact_accounts,
    redeem_and_opt_in,
    refusal,
    refuse_unusable,
)
from iportal.accounts.services._throttle import attempt, bucket, succeeded
from iportal.accounts.services._users import (
    USER_COLUMNS,
    UserRow,
    user_by_email,
    user_by_id,
    user_from,
)
from iportal.accounts.tables import Registration
from iportal.errors import Conflict, Gone, InvalidInput, NotAuthenticated, NotFound
from iportal.i18n import N_
from iportal.notifications.services import queue_email
from iportal.security import hash_password, keyed_hash, new_token, verify_password
from iportal.settings import Settings

LINK_VALIDITY = timedelta(days=5)
TOKEN_PURPOSE = "registration"  # noqa: S105 - a hash purpose, not a secret
CONFIRMATION_TEMPLATE = "registration_confirm"
# Confirmation e-mails one code may cause in a day: nobody can use a code to flood
# an inbox (a successful start is not counted against the address).
EMAILS_PER_CODE = 5
EMAILS_PER_CODE_WINDOW = timedelta(days=1)
MAX_TOKEN_LENGTH = 128

LINK_UNKNOWN = N_(
    "This confirmation link is not valid. Please open the whole link from the e-mail, "
    "or start again with your activation code."
)
LINK_EXPIRED = N_(
    "This confirmation link has expired: a link is valid 5 days. Please start again with "
    "your activation code."
)
LINK_USED = N_(
    "This confirmation link has already been used. Please log in with your login and password."
)
WRONG_PASSWORD = N_(
    "This is not the password of your existing login. Please enter the password you "
    "already use for the invoice portal."
)
PASSWORD_REQUIRED = N_("Please enter your password.")

# The account with this login, and its main contact.
ACCOUNT_BY_LOGIN_SQL = f"""
SELECT a.id AS account_id, a.kind, {USER_COLUMNS}
  FROM account a
  JOIN account_membership m ON m.account_id = a.id AND m.role = 'main_contact'
  JOIN portal_user u ON u.id = m.user_id
 WHERE a.login = $1
"""  # noqa: S608 (constant text only)
REGISTRATION_SQL = """
SELECT id, activation_code_id, email, language, expires_at, completed_at
  FROM registration WHERE token_hash = $1
"""
# The link spent ($1: now), once: of two requests with the same link, one wins.
CLAIM_SQL = """
UPDATE registration SET completed_at = $1, confirmed_at = coalesce(confirmed_at, $1)
 WHERE id = $2 AND completed_at IS NULL AND expires_at > $1
RETURNING id
"""
# A user known without a password (an invited shared user) gets the new one.
FIRST_HASH_SQL = """
UPDATE portal_user SET password_hash = $1, email_confirmed_at = $2
 WHERE id = $3 AND password_hash IS NULL
RETURNING id
"""
NEW_USER_SQL = """
INSERT INTO portal_user (email, first_name, last_name, language, password_hash,
                         email_confirmed_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (email) DO NOTHING RETURNING id
"""


@dataclass(frozen=True)
class CheckedCode:
    """What step 1 shows: the number, its e-mail address (masked) and the login it will
    have (masked too when it is that address)."""

    client_code: str
    company_name: str
    email: str
    login_kind: str
    login: str


@dataclass(frozen=True)
class Target:
    """Where a number lands: an existing account or a new one, and whose password counts
    (an existing user's, which step 3 asks for, or a new one the person chooses)."""

    kind: str
    login: str
    account_id: int | None
    user: UserRow | None
    existing_password: bool


@dataclass(frozen=True)
class RegistrationLink:
    """A confirmation link sent at step 2, as stored (its token only as a hash)."""

    id: int
    activation_code_id: int
    email: str
    language: str
    expires_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class PendingRegistration:
    """What step 3 shows before the password is chosen or entered."""

    token: str
    client_code: str
    company_name: str
    email: str
    login_kind: str
    login: str
    existing_password: bool


@dataclass(frozen=True)
class CompletedRegistration:
    login: str
    client_code: str
    user: UserRow

    @property
    def may_log_in(self) -> bool:
        """A session may start at once only without a second factor: with TOTP on, the
        login page asks for the code, so registration is no way around it."""
        return not self.user.totp_required


async def resolve_target(state: CodeState, email: str) -> Target:
    """The account this number will join when `email` registers it (see the module)."""
    user = await user_by_email(email)
    if user is not None and user.password_hash:
        accounts = await main_contact_accounts(user.id)
        if accounts:
            account = accounts[0]
            return Target(account.kind, account.login, account.id, user, True)
    kind, login = login_for(state, email)
    existing = await db.fetchrow(ACCOUNT_BY_LOGIN_SQL, login)
    if existing is not None:  # step 3 asks for its main contact's password
        return Target(existing["kind"], login, existing["account_id"], user_from(existing), True)
    if user is not None and user.password_hash:
        return Target(kind, login, None, user, True)
    return Target(kind, login, None, user, False)


async def check_activation_code(settings: Settings, raw_code: str, *, ip: str = "") -> CheckedCode:
    """Step 1: the number a code opts in, its e-mail address and its login (an address
    shown masked, `a•••@example.be`); `NotFound`,
    `Gone` or `Conflict` with a clear reason otherwise (see `_opt_in`)."""
    tried = await attempt(bucket("activation", "ip", ip))
    state = await code_state(raw_code, settings)
    refuse_unusable(state)
    target = await resolve_target(state, state.email)
    await succeeded(tried)
    # Whoever holds the paper code sees only enough of the address to recognise it;
    # the person confirms it by typing it at step 2, or gives another.
    login = masked_email(target.login) if "@" in target.login else target.login
    return CheckedCode(
        state.client_code, state.company_name, masked_email(state.email), target.kind, login
    )


async def start_registration(
    settings: Settings, raw_code: str, raw_email: str, *, ip: str = ""
) -> None:
    """Step 2: queue the confirmation e-mail (in the number's language) with a link valid
    5 days. Returns the same for any code: nothing tells a caller whether it exists; only
    a bad e-mail address is refused (`InvalidInput`), and throttling (`TooManyAttempts`:
    per address, and beyond five e-mails a day for one code, so none floods an inbox)."""
    email = email_address(raw_email)
    tried = await attempt(bucket("activation", "ip", ip))
    try:
        state = await code_state(raw_code, settings)
    except (NotFound, InvalidInput):
        return
    if refusal(state) is not None:
        return
    await attempt(
        bucket("registration", "code", state.code_id),
        limit=EMAILS_PER_CODE,
        window=EMAILS_PER_CODE_WINDOW,
    )
    token = new_token()
    now = clock.utcnow()
    base_url = settings.base_url
    async with db.transaction():
        await Registration.insert(
            Registration(
                activation_code=state.code_id,
                email=email,
                language=state.language,
                token_hash=_token_hash(settings, token),
                created_at=now,
                expires_at=now + LINK_VALIDITY,
            )
        )
        await queue_email(
            CONFIRMATION_TEMPLATE,
            email,
            state.language,
            {
                "first_name": state.first_name,
                "company_name": state.company_name,
                "client_code": state.client_code,
                "link": f"{base_url}/activate/confirm?token={token}",
                "base_url": base_url,
                "days": LINK_VALIDITY.days,
            },
            client_number_id=state.client_number_id,
        )
        await record_audit_event(
            "registration_started",
            client_number_id=state.client_number_id,
            ip=ip,
            detail={"client_code": state.client_code, "email": email},
        )
    await succeeded(tried)


def _token_hash(settings: Settings, token: str) -> str:
    return keyed_hash(settings.secret_key, token, purpose=TOKEN_PURPOSE)


async def _live_registration(settings: Settings, raw_token: str) -> RegistrationLink:
    token = (raw_token or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound(LINK_UNKNOWN)
    row = await db.fetchrow(REGISTRATION_SQL, _token_hash(settings, token))
    if row is None:
        raise NotFound(LINK_UNKNOWN)
    registration = RegistrationLink(**row)
    if registration.completed_at is not None:
        raise Gone(LINK_USED)
    if registration.expires_at <= clock.utcnow():
        raise Gone(LINK_EXPIRED)
    return registration


async def pending_registration(
    settings: Settings, raw_token: str, *, ip: str = ""
) -> PendingRegistration:
    """Step 3, before the password: the link opened from the e-mail proves the address.
    Refuses a link that is unknown, used or expired, and a code no longer usable."""
    tried = await attempt(bucket("activation", "ip", ip))
    registration = await _live_registration(settings, raw_token)
    state = await code_state_by_id(registration.activation_code_id)
    refuse_unusable(state)
    await Registration.update({Registration.confirmed_at: clock.utcnow()}).where(
        (Registration.id == registration.id) & Registration.confirmed_at.is_null()
    )
    target = await resolve_target(state, registration.email)
    await succeeded(tried)
    return PendingRegistration(
        token=raw_token.strip(),
        client_code=state.client_code,
        company_name=state.company_name,
        email=registration.email,
        login_kind=target.kind,
        login=target.login,
        existing_password=target.existing_password,
    )


async def complete_registration(
    settings: Settings, raw_token: str, password: str, *, ip: str = ""
) -> CompletedRegistration:
    """Step 3: with a new password (the password rules apply, argon2id) or the existing
    user's password, redeem the code atomically and opt the number in. Afterwards the
    account exists, the person is its main contact and the link is spent."""
    tried = await attempt(bucket("activation", "ip", ip))
    registration = await _live_registration(settings, raw_token)
    state = await code_state_by_id(registration.activation_code_id)
    refuse_unusable(state)
    email = registration.email
    target = await resolve_target(state, email)
    password_hash = await _password_hash(target, password, email, ip=ip)
    async with db.transaction():
        claimed = await db.fetchval(CLAIM_SQL, clock.utcnow(), registration.id)
        if claimed is None:
            raise Gone(LINK_USED)
        user_id = await _main_contact(target, state, registration, password_hash)
        account_id = target.account_id
        if account_id is None:
            account_id = await create_account(target.kind, target.login, user_id)
            if account_id is None:
                raise Conflict(CHANGED_MEANWHILE)
        await redeem_and_opt_in(state, user_id=user_id, account_id=account_id, ip=ip)
    await succeeded(tried)
    user = await user_by_id(user_id)
    assert user is not None  # just written, in this request's transaction or committed
    return CompletedRegistration(login=target.login, client_code=state.client_code, user=user)


async def _password_hash(target: Target, password: str, email: str, *, ip: str) -> str | None:
    """The new password's argon2id hash; None when the existing user's password counts
    (then it is verified here, throttled per user, and a wrong one counts as a failed
    login: audited, and towards the lock after a hundred)."""
    if not target.existing_password:
        check_password(password, email=email)
        return await hash_password(password)
    if not password:
        raise InvalidInput(PASSWORD_REQUIRED)
    assert target.user is not None  # an existing password always names its user
    # The same bucket as logins: registration is no second way to guess a password.
    tried = await attempt(bucket("login", "account", target.user.id))
    matches, _ = await verify_password(target.user.password_hash, password)
    if not matches or target.user.locked_at is not None:
        reason = "locked" if target.user.locked_at is not None else "password"
        await record_login_failure(target.user.id, ip=ip, reason=reason)
        raise NotAuthenticated(WRONG_PASSWORD)
    await succeeded(tried)
    return None


async def _main_contact(
    target: Target, state: CodeState, registration: RegistrationLink, password_hash: str | None
) -> int:
    """The user who will be main contact: the existing one, or a new one with the new
    password (a user known without a password, such as an invited shared user, gets it)."""
    now = clock.utcnow()
    if password_hash is None:
        assert target.user is not None  # an existing password was verified
        return target.user.id
    if target.user is not None:
        user_id = await db.fetchval(FIRST_HASH_SQL, password_hash, now, target.user.id)
    else:
        user_id = await db.fetchval(
            NEW_USER_SQL,
            registration.email,
            state.first_name,
            state.last_name,
            registration.language,
            password_hash,
            now,
        )
    if user_id is None:  # the same address registered at the same instant in another window
        raise Conflict(CHANGED_MEANWHILE)
    return int(user_id)
