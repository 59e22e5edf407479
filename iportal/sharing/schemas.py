"""Request and response types of the shared-users API (`/api/v1/shared-users`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from msgspec import UNSET, Struct, UnsetType

from iportal.web.params import NonEmpty


@dataclass
class SharedUserRequest:
    """A person to let into the account and the client codes they may see (possibly
    none yet); `until`, a date from today on, ends their access at that day's end
    (Brussels time), by itself."""

    email: NonEmpty
    language: NonEmpty
    first_name: str = ""
    last_name: str = ""
    client_codes: list[str] = field(default_factory=list)
    until: date | None = None


class SharedUserPatch(Struct, kw_only=True):
    """What to change; `client_codes`, when given (even empty), replaces the ticked set.
    The name and language can change only until the person has chosen a password.
    `until` set to a date sets or moves the end of access, to null clears it; left out,
    it stays."""

    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    client_codes: list[str] | None = None
    until: date | UnsetType | None = UNSET


@dataclass
class DeliveryProblemItem:
    """E-mail to this address does not arrive, since `since`: `refused` by its server,
    `bounced` afterwards, or `expired` (not delivered for five days)."""

    kind: str
    since: datetime


@dataclass
class SharedUserItem:
    """A shared user; `has_login` is false until the invited person chose a password;
    `until` is the last day they see the account (null: no end); `delivery_problem` is
    set while e-mail to their address does not arrive."""

    id: int
    email: str
    first_name: str
    last_name: str
    language: str
    has_login: bool
    client_codes: list[str]
    until: date | None
    delivery_problem: DeliveryProblemItem | None = None


@dataclass
class SharedUserList:
    items: list[SharedUserItem]
