"""Audit kinds for forwarding documents to accounting software.

The new kinds are added to those the check already allows (read from the database),
so that migrations of other features adding kinds of their own may run in any order."""

import re

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T06:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit kinds for forwarding"

NEW_KINDS = (
    "forwarding_address_added",
    "forwarding_address_confirmed",
    "forwarding_address_removed",
    "document_forwarded",
)
CURRENT_CHECK = """
SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
 WHERE conname = 'kind_known' AND conrelid = 'audit_event'::regclass
"""


async def _kinds_check(engine, extra, keep):
    # piccolo's auto migrations do not see a changed check condition.
    rows = await engine.run_ddl(CURRENT_CHECK)
    allowed = re.findall(r"'([a-z0-9_]+)'", rows[0]["definition"]) if rows else []
    kinds = [kind for kind in dict.fromkeys([*allowed, *extra]) if keep(kind)]
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    await engine.run_ddl("ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS kind_known")
    await engine.run_ddl(
        f"ALTER TABLE audit_event ADD CONSTRAINT kind_known CHECK (kind IN ({listed}))"
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        await _kinds_check(engine_finder(), NEW_KINDS, lambda kind: True)

    async def back():
        engine = engine_finder()
        listed = ", ".join(f"'{kind}'" for kind in NEW_KINDS)
        await engine.run_ddl(f"DELETE FROM audit_event WHERE kind IN ({listed})")
        await _kinds_check(engine, (), lambda kind: kind not in NEW_KINDS)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
