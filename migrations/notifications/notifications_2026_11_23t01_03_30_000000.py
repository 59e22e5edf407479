"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T01:03:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for document events and invitations"

STATEMENTS = [
    "CREATE INDEX document_event_unprocessed ON document_event (client_number_id, id) "
    "WHERE processed_at IS NULL",
    "CREATE INDEX document_event_document ON document_event (document_id)",
    "CREATE INDEX outbox_email_client_number_pending ON outbox_email (client_number_id, template) "
    "WHERE state = 'pending'",
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
    for name in ("document_event_unprocessed", "document_event_document",
                 "outbox_email_client_number_pending"):
        manager.add_raw_backwards(_drop(name))
    return manager
