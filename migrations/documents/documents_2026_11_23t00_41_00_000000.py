"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T00:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "document list indexes"

STATEMENTS = [
    "CREATE INDEX document_list_by_issue_date ON document (client_number_id, issue_date DESC, id DESC) INCLUDE (type, amount_incl_vat, number)",
    "CREATE INDEX document_list_by_amount ON document (client_number_id, amount_incl_vat DESC, id DESC) INCLUDE (type, issue_date, number)",
    "CREATE INDEX document_read_mark_document ON document_read_mark (document_id)",
    "CREATE INDEX duplicate_request_document ON duplicate_request (document_id, requested_at DESC)",
]


def _drop(name: str):
    async def run():  # inside the migration's transaction
        engine = engine_finder()
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    return run


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="documents", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(_drop("document_list_by_issue_date"))
    manager.add_raw_backwards(_drop("document_list_by_amount"))
    manager.add_raw_backwards(_drop("document_read_mark_document"))
    manager.add_raw_backwards(_drop("duplicate_request_document"))
    return manager
