"""The access rule has one home, `iportal/sharing/entitlement.sql`: the database's
`entitlements` is that text, and the newest migration that applies it was
written for that text, so editing the rule anywhere else, or editing it without a
migration, fails here."""

from __future__ import annotations

import hashlib
import importlib
from importlib.resources import files
from pathlib import Path
from typing import Any

from iportal import db

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "sharing"


def without_trailing_whitespace(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def rule_file() -> str:
    return without_trailing_whitespace(
        files("iportal.sharing").joinpath("entitlement.sql").read_text(encoding="utf-8")
    )


async def test_the_databases_function_is_the_rules_file(transaction: Any) -> None:
    definition = await db.fetchval(
        "SELECT pg_get_functiondef('entitlements(integer)'::regprocedure)"
    )
    assert without_trailing_whitespace(definition) == rule_file()


def test_the_newest_rule_migration_applies_this_text() -> None:
    """A changed rule needs a new migration to reach databases already migrated."""
    pinned = {}
    for path in MIGRATIONS.glob("sharing_*.py"):
        module = importlib.import_module(f"migrations.sharing.{path.stem}")
        if hasattr(module, "RULE_SHA256"):
            pinned[module.ID] = module.RULE_SHA256
    assert pinned, "no migration applies iportal/sharing/entitlement.sql"
    newest = pinned[max(pinned)]
    assert hashlib.sha256(rule_file().encode()).hexdigest() == newest, (
        "entitlement.sql changed: add a sharing migration that applies it again, "
        "with RULE_SHA256 of the new text"
    )
