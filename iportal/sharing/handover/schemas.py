"""Request and response types of `POST /api/v1/account/main-contact`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class MainContactRequest:
    """The shared user of the account (their id in `/api/v1/shared-users`) who is to
    become its main contact."""

    shared_user_id: int


@dataclass
class MainContactAsked:
    """Both people were e-mailed a link; the role moves when both have confirmed,
    before `expires_at`."""

    detail: str
    email: str
    expires_at: datetime
