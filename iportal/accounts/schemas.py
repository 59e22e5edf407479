"""Request and response types of the accounts API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass
class ClientNumberRequest:
    """The issuer's client number, as `PUT /issuer/client-numbers/{client_code}` takes it.

    Values are checked by the service, so that a bad one is a 422 naming its field;
    `contract_start` is an ISO 8601 date. Without `aliases` the stored ones are kept;
    a list, even empty, replaces them.
    """

    company_name: str
    email: str
    first_name: str
    last_name: str
    language: str
    contract_start: str
    enterprise_number: str | None = None
    aliases: list[str] | None = None


@dataclass
class ClientNumberSaved:
    id: int
    client_code: str
    status: str  # created or updated


@dataclass
class IssuedActivationCode:
    """A new activation code: shown this once, only its hash is kept."""

    client_code: str
    code: str
    expires_at: datetime
