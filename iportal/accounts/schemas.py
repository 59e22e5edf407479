"""Request and response types of the accounts API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LoginRequest:
    username: str
    password: str
    totp: str | None = None


@dataclass
class Profile:
    id: int
    email: str
    first_name: str
    last_name: str
    language: str
