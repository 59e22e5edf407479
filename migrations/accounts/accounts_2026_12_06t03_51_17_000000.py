"""The audit a main contact reads: every event on a client number carries the account
that held the number, and each way of narrowing the account's events is one index range
(by kind, by client number, by person), as is a person's own events.

The new kinds are added to those the check already allows (read from the database),
so that migrations of other features adding kinds of their own may run in any order."""

import re

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T03:51:17:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit events per account: indexes, kinds of exports and of handing over"

NEW_KINDS = (
    "document_exported",
    "main_contact_handover_requested",
    "main_contact_handover_confirmed",
    "main_contact_handed_over",
)
INDEXES = {
    "audit_event_account_kind": "audit_event (account_id, kind, at DESC, id DESC)",
    "audit_event_account_number": "audit_event (account_id, client_number_id, at DESC, id DESC)",
    "audit_event_account_actor": "audit_event (account_id, actor_id, at DESC, id DESC)",
    "audit_event_actor_at": "audit_event (actor_id, at DESC, id DESC)",
    "audit_event_actor_kind": "audit_event (actor_id, kind, at DESC, id DESC)",
}
# Events recorded before on a number alone go to the account holding it now.
BACKFILL = """
UPDATE audit_event e SET account_id = c.account_id
  FROM client_number c
 WHERE e.account_id IS NULL AND c.id = e.client_number_id AND c.account_id IS NOT NULL
"""
CURRENT_CHECK = """
SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
 WHERE conname = 'kind_known' AND conrelid = 'audit_event'::regclass
"""


async def _kinds_check(engine, extra, keep):
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
        engine = engine_finder()
        await _kinds_check(engine, NEW_KINDS, lambda kind: True)
        for name, target in INDEXES.items():
            await engine.run_ddl(f"CREATE INDEX {name} ON {target}")
        await engine.run_ddl(BACKFILL)

    async def back():
        engine = engine_finder()
        for name in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")
        await engine.run_ddl(
            f"DELETE FROM audit_event WHERE kind IN ({', '.join(repr(k) for k in NEW_KINDS)})"
        )
        await _kinds_check(engine, (), lambda kind: kind not in NEW_KINDS)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
