"""Small shared security helpers: argon2id passwords, keyed hashes, random tokens.

Password hashing is CPU-heavy, so it runs in a thread (argon2-cffi releases
the GIL) and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when a login names nobody, so that unknown users cost one hash too.
_UNKNOWN_USER_HASH = PASSWORD_HASHER.hash(secrets.token_urlsafe(16))


def _argon2_threads() -> ThreadPoolExecutor:
    # One thread per core for every hash and verification of the process: more would
    # only fight the event loop for the cores, and every other request would wait.
    return ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="argon2")


def _new_argon2_threads() -> None:
    global _ARGON2_THREADS
    _ARGON2_THREADS = _argon2_threads()


_ARGON2_THREADS = _argon2_threads()
# A forked child has none of its parent's threads: it gets a pool of its own.
os.register_at_fork(after_in_child=_new_argon2_threads)


async def hash_password(password: str) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_ARGON2_THREADS, _hash, password)


def _hash(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


def _verify(password_hash: str | None, password: str) -> tuple[bool, bool]:
    try:
        PASSWORD_HASHER.verify(password_hash or _UNKNOWN_USER_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    if password_hash is None:
        return False, False
    return True, PASSWORD_HASHER.check_needs_rehash(password_hash)


async def verify_password(password_hash: str | None, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash); a missing hash costs the same time as a wrong password."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_ARGON2_THREADS, partial(_verify, password_hash, password))


def keyed_hash(secret_key: str, value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of a high-entropy secret (a code, a token, a session id), hex.

    `purpose` keeps a value hashed for one use from matching in another table.
    """
    key = hashlib.sha256(f"{purpose}:{secret_key}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token; 32 bytes give 256 bits."""
    return secrets.token_urlsafe(nbytes)
