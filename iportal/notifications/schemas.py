"""Request and response types of the forwarding API
(`/api/v1/client-numbers/{client_code}/forwarding-addresses`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from iportal.web.params import NonEmpty


@dataclass
class ForwardingAddressRequest:
    """The purchase-invoice inbox of the accounting software (Exact, Yuki, Octopus, …);
    a confirmation link goes there first."""

    email: NonEmpty


@dataclass
class ForwardingAddressItem:
    """An inbox the number's documents go to: `waiting_confirmation` until the link sent
    to it is used, then `active`, or `failing` while its latest forward is refused or
    waits to be tried again (`last_error` says why)."""

    id: int
    email: str
    state: Literal["waiting_confirmation", "active", "failing"]
    added_by: str
    created_at: datetime
    confirmed_at: datetime | None
    last_error: str


@dataclass
class ForwardingAddressList:
    items: list[ForwardingAddressItem]
