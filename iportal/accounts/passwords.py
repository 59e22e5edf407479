"""Password rules (NIST SP 800-63B): long enough, not known to attackers, no
composition rules. A password is refused when it is, or is built from, a common
password (the list shipped in `data/common-passwords.txt`)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from iportal.errors import InvalidInput
from iportal.i18n import N_

MIN_LENGTH = 12
RECOMMENDED_LENGTH = 15
MAX_LENGTH = 256
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"
# What people add to a common word to pass a length rule: digits, years, symbols.
_DECORATION = re.compile(r"^[\d\W_]*(.*?)[\d\W_]*$")
# Sequences and keyboard rows (qwerty, azerty, qwertz) that people walk along.
_SEQUENCES = (
    "01234567890123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "qwertzuiopasdfghjklyxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "1234567890qwertyuiop",
    "1234567890azertyuiop",
)
MIN_DISTINCT = 5


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """The password, or its core without leading/trailing digits and symbols, or a
    word repeated, is on the list; or it is a walk along a keyboard row or a sequence,
    or uses fewer than five different characters."""
    lowered = password.lower()
    core = _DECORATION.match(lowered)
    candidates = {lowered, core.group(1) if core else lowered}
    for size in range(1, len(lowered) // 2 + 1):
        if len(lowered) % size == 0 and lowered == lowered[:size] * (len(lowered) // size):
            candidates.add(lowered[:size])
            break
    known = common_passwords()
    if any(candidate in known for candidate in candidates if candidate):
        return True
    return len(set(lowered)) < MIN_DISTINCT or _is_walk(lowered)


def _is_walk(lowered: str) -> bool:
    return any(lowered in sequence or lowered in sequence[::-1] for sequence in _SEQUENCES)


def check_password(password: str, *, email: str | None = None) -> None:
    """`InvalidInput` with a reason a person understands, or nothing."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            N_("The password must have at least %(min)s characters (we recommend %(good)s)."),
            min=MIN_LENGTH,
            good=RECOMMENDED_LENGTH,
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(N_("The password may have at most %(max)s characters."), max=MAX_LENGTH)
    if is_common(password) or (email and email.lower() in password.lower()):
        raise InvalidInput(
            N_(
                "This password is too easy to guess: it is a common password or built from "
                "one. Choose another, a short sentence is easy to remember."
            )
        )
