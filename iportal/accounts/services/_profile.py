"""A person's own profile: name, language of pages and e-mails, how often they are
told about new documents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iportal.accounts.tables import NOTIFICATION_FREQUENCIES, PortalUser
from iportal.columns import LANGUAGES
from iportal.errors import InvalidInput, NotFound
from iportal.i18n import N_

MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class ProfileInfo:
    id: int
    email: str
    first_name: str
    last_name: str
    language: str
    notification_frequency: str
    totp_enabled: bool


def _profile(row: Mapping[str, Any]) -> ProfileInfo:
    return ProfileInfo(
        id=row["id"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        language=row["language"],
        notification_frequency=row["notification_frequency"],
        totp_enabled=row["totp_enabled_at"] is not None,
    )


async def get_profile(user_id: int) -> ProfileInfo:
    row = await PortalUser.select().where(PortalUser.id == user_id).first()
    if row is None:
        raise NotFound()
    return _profile(row)


def _name(value: str, field: str) -> str:
    cleaned = " ".join(value.split())
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(
            N_("%(field)s: at most %(max)s characters."), field=field, max=MAX_NAME_LENGTH
        )
    return cleaned


async def update_profile(
    user_id: int,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    language: str | None = None,
    notification_frequency: str | None = None,
) -> ProfileInfo:
    """Change what is given, leave the rest; a bad value is `InvalidInput` naming it."""
    changes: dict[Any, Any] = {}
    if first_name is not None:
        changes[PortalUser.first_name] = _name(first_name, "first_name")
    if last_name is not None:
        changes[PortalUser.last_name] = _name(last_name, "last_name")
    if language is not None:
        if language not in LANGUAGES:
            raise InvalidInput(N_("language: one of nl, fr, en, de."))
        changes[PortalUser.language] = language
    if notification_frequency is not None:
        if notification_frequency not in NOTIFICATION_FREQUENCIES:
            raise InvalidInput(N_("notification_frequency: one of immediate, daily, weekly."))
        changes[PortalUser.notification_frequency] = notification_frequency
    if changes:
        await PortalUser.update(changes).where(PortalUser.id == user_id)
    return await get_profile(user_id)
