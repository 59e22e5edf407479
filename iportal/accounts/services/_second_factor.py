"""The second factor's primitives: the TOTP secret encrypted at rest, codes checked
with ±1 step of drift and consumed atomically, single-use recovery codes.

A code is consumed by raising `portal_user.totp_last_step` in one conditional
UPDATE, so two requests carrying the same code at the same instant cannot both
win; a recovery code by setting its `used_at` the same way.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
from functools import cache

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from iportal import clock, db
from iportal.accounts.services._audit import record_audit_event
from iportal.accounts.services._throttle import attempt, bucket, succeeded
from iportal.accounts.services._users import UserRow
from iportal.accounts.tables import RecoveryCode
from iportal.security import keyed_hash, same

log = logging.getLogger(__name__)

STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# Crockford's base32: no I, L, O, U, so a code read aloud or from paper stays unambiguous.
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_CODE_LENGTH = 16  # 16 × 5 = 80 bits
RECOVERY_PURPOSE = "recovery-code"
_CIPHER_VERSION = "v1"
_TOTP_CODE = re.compile(r"^\d{6}$")
_CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# A time step's code accepted once: only a step later than the last one used.
CONSUME_STEP_SQL = """
UPDATE portal_user SET totp_last_step = $1
 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1) RETURNING id
"""
CONSUME_RECOVERY_CODE_SQL = """
UPDATE recovery_code SET used_at = $1
 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL RETURNING id
"""


@cache
def _cipher(secret_key: str) -> AESGCM:
    # A key of its own for TOTP secrets, derived from the portal's secret key.
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"iportal totp secret v1"
    ).derive(secret_key.encode())
    return AESGCM(key)


def _associated_data(user_id: int) -> bytes:
    # Binds the ciphertext to its row: copied to another user, it no longer decrypts.
    return f"portal_user:{user_id}".encode()


def encrypt_totp_secret(secret_key: str, user_id: int, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = _cipher(secret_key).encrypt(nonce, secret.encode(), _associated_data(user_id))
    return f"{_CIPHER_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt_totp_secret(secret_key: str, user_id: int, stored: str | None) -> str | None:
    """The plain secret, or None when there is none or it cannot be decrypted (the
    secret key changed): then no code matches and the user falls back to a reset."""
    if not stored or not stored.startswith(f"{_CIPHER_VERSION}."):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored.split(".", 1)[1].encode())
        plain = _cipher(secret_key).decrypt(raw[:12], raw[12:], _associated_data(user_id))
    except (InvalidTag, ValueError):
        log.warning("TOTP secret of user %s cannot be decrypted", user_id)
        return None
    return plain.decode()


def current_step() -> int:
    return int(clock.utcnow().timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str) -> int | None:
    """The time step (now ±1) whose code this is, or None. Every candidate is
    compared, in constant time, whatever matched first."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    now = current_step()
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if same(totp.generate_otp(step), code):
            found = step
    return found


async def consume_step(user_id: int, step: int) -> bool:
    """Accept the code of `step` once: True for the one request that raised
    `totp_last_step`, False for every replay (the same or an older step)."""
    return await db.fetchval(CONSUME_STEP_SQL, step, user_id) is not None


def normalise_recovery_code(raw: str) -> str:
    compact = re.sub(r"[^0-9A-Za-z]", "", raw or "").upper()
    return compact.translate(_CROCKFORD_ALIASES)


def new_recovery_codes() -> list[str]:
    """Ten codes of 80 bits each, shown as `ABCD-EFGH-JKMN-PQRS`."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)))
    return codes


def recovery_code_hash(secret_key: str, code: str) -> str:
    return keyed_hash(secret_key, normalise_recovery_code(code), purpose=RECOVERY_PURPOSE)


async def replace_recovery_codes(secret_key: str, user_id: int) -> list[str]:
    """New codes for the user; the old ones stop working. The plain codes are
    returned this once, only their keyed hashes are kept."""
    codes = new_recovery_codes()
    await RecoveryCode.delete().where(RecoveryCode.user == user_id)
    await RecoveryCode.insert(
        *(RecoveryCode(user=user_id, code_hash=recovery_code_hash(secret_key, c)) for c in codes)
    )
    return codes


async def consume_recovery_code(secret_key: str, user_id: int, code: str) -> bool:
    used = await db.fetchval(
        CONSUME_RECOVERY_CODE_SQL, clock.utcnow(), user_id, recovery_code_hash(secret_key, code)
    )
    return used is not None


async def remaining_recovery_codes(user_id: int) -> int:
    return int(
        await RecoveryCode.count().where(
            (RecoveryCode.user == user_id) & RecoveryCode.used_at.is_null()
        )
    )


async def verify_second_factor(secret_key: str, user: UserRow, code: str, *, ip: str = "") -> bool:
    """Check and consume a TOTP code or a recovery code of a user who has TOTP on.

    Throttled per account and per address like logins (`TooManyAttempts`); a right
    code withdraws its attempt. The code is accepted at most once, ever.
    """
    tried = await attempt(bucket("totp", "account", user.id), bucket("totp", "ip", ip))
    compact = "".join((code or "").split())
    accepted = False
    if _TOTP_CODE.match(compact):
        secret = decrypt_totp_secret(secret_key, user.id, user.totp_secret_encrypted)
        step = matching_step(secret, compact) if secret else None
        accepted = step is not None and await consume_step(user.id, step)
    elif len(normalise_recovery_code(compact)) == RECOVERY_CODE_LENGTH:
        accepted = await consume_recovery_code(secret_key, user.id, compact)
        if accepted:
            left = await remaining_recovery_codes(user.id)
            await record_audit_event(
                "recovery_code_used", actor_id=user.id, ip=ip, detail={"remaining": left}
            )
    if accepted:
        await succeeded(tried)
    return accepted
