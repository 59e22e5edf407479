"""Request and response types of the shared-users API (`/api/v1/shared-users`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from iportal.web.params import NonEmpty


@dataclass
class SharedUserRequest:
    """A person to let into the account and the client codes they may see (possibly
    none yet). An end date (`until`) is not offered yet."""

    email: NonEmpty
    language: NonEmpty
    first_name: str = ""
    last_name: str = ""
    client_codes: list[str] = field(default_factory=list)


@dataclass
class SharedUserPatch:
    """What to change; `client_codes`, when given (even empty), replaces the ticked set.
    The name and language can change only until the person has chosen a password."""

    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    client_codes: list[str] | None = None


@dataclass
class DeliveryProblemItem:
    """E-mail to this address does not arrive, since `since`: `refused` by its server,
    `bounced` afterwards, or `expired` (not delivered for five days)."""

    kind: str
    since: datetime


@dataclass
class SharedUserItem:
    """A shared user; `has_login` is false until the invited person chose a password;
    `delivery_problem` is set while e-mail to their address does not arrive."""

    id: int
    email: str
    first_name: str
    last_name: str
    language: str
    has_login: bool
    client_codes: list[str]
    delivery_problem: DeliveryProblemItem | None = None


@dataclass
class SharedUserList:
    items: list[SharedUserItem]
