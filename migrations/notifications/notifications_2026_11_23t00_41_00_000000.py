"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T00:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes"

STATEMENTS = [
    "CREATE INDEX outbox_email_due ON outbox_email (next_attempt_at, id) WHERE state = 'pending'",
    "CREATE INDEX outbox_email_user ON outbox_email (user_id, created_at DESC)",
]


def _drop(name: str):
    async def run():  # inside the migration's transaction
        engine = engine_finder()
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    return run


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(_drop("outbox_email_due"))
    manager.add_raw_backwards(_drop("outbox_email_user"))
    return manager
