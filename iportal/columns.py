"""Small helpers shared by the domain tables: timestamps and enum checks.

In the tables, `default=None, null=False` marks a value the caller must give:
the column is NOT NULL without a usable default, so a forgotten value is refused
by the database instead of silently becoming '' or today.
"""

from __future__ import annotations

from collections.abc import Iterable

from piccolo.columns import Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow

LANGUAGES = ("nl", "fr", "en", "de")


def one_of(column: str, values: Iterable[str]) -> str:
    """SQL for a check constraint that keeps `column` inside an enumeration."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


def timestamp_now() -> Timestamptz:
    return Timestamptz(default=TimestamptzNow())


def optional_timestamp() -> Timestamptz:
    return Timestamptz(null=True, default=None)


def language_column() -> Varchar:
    return Varchar(length=2, default="en")
