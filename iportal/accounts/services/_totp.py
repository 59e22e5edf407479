"""Turning the TOTP second factor on and off.

Enrolment stores a new secret (encrypted) that is not yet in force; confirming it
with a first code turns it on and gives ten recovery codes; removal asks for the
password. Turning it on or off ends every other session of the user.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
import segno

from iportal import clock, db
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._second_factor import (
    STEP_SECONDS,
    consume_step,
    decrypt_totp_secret,
    encrypt_totp_secret,
    matching_step,
    remaining_recovery_codes,
    replace_recovery_codes,
)
from iportal.accounts.services._sessions import check_current_password, end_all_sessions
from iportal.accounts.services._throttle import attempt, bucket, succeeded
from iportal.accounts.services._users import UserRow, user_by_id
from iportal.accounts.tables import RecoveryCode
from iportal.errors import Conflict, InvalidInput, NotFound
from iportal.i18n import N_

ISSUER_NAME = "iportal"
ALREADY_ON = N_("Two-step verification is already on. Remove it first to set it up again.")
NOT_STARTED = N_("Start the set-up of two-step verification first.")
NOT_ON = N_("Two-step verification is not on.")
WRONG_CODE = N_(
    "This code is not correct. Enter the six digits your app shows now; check that the "
    "time on your phone is right."
)
# A new secret, not in force yet: never over one that is.
ENROL_SQL = """
UPDATE portal_user SET totp_secret_encrypted = $1, totp_last_step = NULL
 WHERE id = $2 AND totp_enabled_at IS NULL RETURNING id
"""
TURN_ON_SQL = """
UPDATE portal_user SET totp_enabled_at = $1
 WHERE id = $2 AND totp_enabled_at IS NULL RETURNING id
"""
TURN_OFF_SQL = """
UPDATE portal_user SET totp_secret_encrypted = NULL, totp_enabled_at = NULL
 WHERE id = $1 AND totp_enabled_at IS NOT NULL RETURNING id
"""


@dataclass(frozen=True)
class TotpEnrolment:
    """What the person needs to add the account to an authenticator app."""

    otpauth_uri: str
    secret: str
    qr_svg: str

    @property
    def grouped_secret(self) -> str:
        """The manual key in groups of four, easier to type."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True)
class TotpStatus:
    enabled: bool
    pending: TotpEnrolment | None
    recovery_codes_left: int


def _enrolment(email: str, secret: str) -> TotpEnrolment:
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER_NAME
    )
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=5, dark="#1a1a1a", light="#ffffff", title="otpauth QR code")
    return TotpEnrolment(otpauth_uri=uri, secret=secret, qr_svg=svg)


async def _user(user_id: int) -> UserRow:
    user = await user_by_id(user_id)
    if user is None:
        raise NotFound()
    return user


async def start_totp_enrolment(secret_key: str, user_id: int) -> TotpEnrolment:
    """A new secret for the user, stored encrypted and not yet in force; starting
    again replaces it."""
    user = await _user(user_id)
    if user.totp_required:
        raise Conflict(ALREADY_ON)
    secret = pyotp.random_base32(32)  # 160 bits, RFC 4226's recommended length
    stored = await db.fetchval(ENROL_SQL, encrypt_totp_secret(secret_key, user_id, secret), user_id)
    if stored is None:
        raise Conflict(ALREADY_ON)
    return _enrolment(user.email, secret)


async def totp_status(secret_key: str, user_id: int) -> TotpStatus:
    """On, off, or being set up (then with the pending secret to show again)."""
    user = await _user(user_id)
    if user.totp_required:
        return TotpStatus(True, None, await remaining_recovery_codes(user_id))
    secret = decrypt_totp_secret(secret_key, user_id, user.totp_secret_encrypted)
    pending = _enrolment(user.email, secret) if secret else None
    return TotpStatus(False, pending, 0)


async def confirm_totp(
    secret_key: str, user_id: int, code: str, *, session_id: int | None = None, ip: str = ""
) -> list[str]:
    """Turn TOTP on with a first code from the app; returns the ten recovery codes,
    shown this once. Every other session of the user ends."""
    user = await _user(user_id)
    if user.totp_required:
        raise Conflict(ALREADY_ON)
    secret = decrypt_totp_secret(secret_key, user_id, user.totp_secret_encrypted)
    if secret is None:
        raise InvalidInput(NOT_STARTED)
    tried = await attempt(bucket("totp", "account", user_id), bucket("totp", "ip", ip))
    step = matching_step(secret, "".join((code or "").split()))
    async with db.transaction():
        if step is None or not await consume_step(user_id, step):
            raise InvalidInput(WRONG_CODE)
        enabled = await db.fetchval(TURN_ON_SQL, clock.utcnow(), user_id)
        if enabled is None:
            raise Conflict(ALREADY_ON)
        codes = await replace_recovery_codes(secret_key, user_id)
        ended = await end_all_sessions(user_id, except_session_id=session_id)
        await record_audit_event(
            "totp_enabled", actor_id=user_id, ip=ip, detail={"sessions_ended": ended}
        )
    await succeeded(tried)
    return codes


async def disable_totp(
    user_id: int, password: str, *, session_id: int | None = None, ip: str = ""
) -> None:
    """Turn TOTP off; asks for the password. Every other session ends."""
    await check_current_password(user_id, password, session_id=session_id, ip=ip)
    async with db.transaction():
        turned_off = await db.fetchval(TURN_OFF_SQL, user_id)
        if turned_off is None:
            raise Conflict(NOT_ON)
        await RecoveryCode.delete().where(RecoveryCode.user == user_id)
        ended = await end_all_sessions(user_id, except_session_id=session_id)
        await record_audit_event(
            "totp_disabled", actor_id=user_id, ip=ip, detail={"sessions_ended": ended}
        )
