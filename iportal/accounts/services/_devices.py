"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"):
a browser that has logged into an account carries a signed cookie naming the user
and a random nonce, and its login attempts are counted in a bucket of its own.

So guesses from elsewhere, which share the account's bucket, can fill that bucket
without keeping the owner's known browsers out; a device cookie that itself sees
failures is throttled in its own bucket. The cookie is stateless (an HMAC with the
secret key), so checking it costs no statement on the login's path.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from iportal.accounts.services._throttle import bucket
from iportal.security import keyed_hash, same
from iportal.settings import Settings

DEVICE_PURPOSE = "device-cookie"
DEVICE_COOKIE_LIFETIME = timedelta(days=365)
# `<user id>.<nonce>.<signature>`: the nonce is URL-safe base64 (no dots), the signature hex.
_FORMAT = re.compile(r"^([0-9]{1,10})\.([A-Za-z0-9_-]{22,64})\.([0-9a-f]{64})$")


@dataclass(frozen=True)
class KnownDevice:
    """A browser that logged into the account of `user_id` before."""

    user_id: int
    nonce: str

    @property
    def bucket(self) -> str:
        return bucket("login", "device", self.nonce)


def _signature(settings: Settings, user_id: int, nonce: str) -> str:
    return keyed_hash(settings.secret_key, f"{user_id}.{nonce}", purpose=DEVICE_PURPOSE)


def new_device_cookie(settings: Settings, user_id: int) -> str:
    """The value of a new device cookie for a browser that just logged in as `user_id`."""
    nonce = secrets.token_urlsafe(16)
    return f"{user_id}.{nonce}.{_signature(settings, user_id, nonce)}"


def known_device(settings: Settings, cookie_value: str | None) -> KnownDevice | None:
    """The device a cookie names, when its signature is ours; None for anything else
    (absent, malformed, forged): such a browser is an unknown device."""
    match = _FORMAT.match(cookie_value or "")
    if match is None:
        return None
    user_id, nonce = int(match.group(1)), match.group(2)
    if not same(match.group(3), _signature(settings, user_id, nonce)):
        return None
    return KnownDevice(user_id, nonce)
