"""A person as logging in, registration and the second factor read them: one typed row,
and the few statements that find one."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from iportal import db
from iportal.db import Record


@dataclass(frozen=True)
class UserRow:
    """A portal user with what checking their credentials needs."""

    id: int
    email: str
    first_name: str
    last_name: str
    language: str
    password_hash: str | None
    totp_secret_encrypted: str | None
    totp_enabled_at: datetime | None
    failed_login_count: int
    locked_at: datetime | None

    @property
    def totp_required(self) -> bool:
        return self.totp_enabled_at is not None


USER_FIELDS = tuple(field.name for field in fields(UserRow))
# The columns of a `UserRow`, from `portal_user u`, for statements that join it.
USER_COLUMNS = ", ".join(f"u.{name}" for name in USER_FIELDS)

USER_BY_ID_SQL = f"SELECT {USER_COLUMNS} FROM portal_user u WHERE u.id = $1"  # noqa: S608
USER_BY_EMAIL_SQL = f"SELECT {USER_COLUMNS} FROM portal_user u WHERE u.email = lower($1)"  # noqa: S608


def user_from(record: Record) -> UserRow:
    """The `UserRow` inside a wider row (one that selected `USER_COLUMNS`)."""
    return UserRow(**{name: record[name] for name in USER_FIELDS})


async def user_by_id(user_id: int) -> UserRow | None:
    row = await db.fetchrow(USER_BY_ID_SQL, user_id)
    return user_from(row) if row else None


async def user_by_email(email: str) -> UserRow | None:
    row = await db.fetchrow(USER_BY_EMAIL_SQL, email)
    return user_from(row) if row else None
