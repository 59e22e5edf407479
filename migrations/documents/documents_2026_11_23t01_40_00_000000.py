"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T01:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for sorting the document list by number, due date and type"

STATEMENTS = [
    "CREATE INDEX document_list_by_number ON document (client_number_id, number, id) "
    "INCLUDE (type, amount_incl_vat, issue_date)",
    "CREATE INDEX document_list_by_due_date ON document "
    "(client_number_id, (coalesce(due_date, issue_date)), id) "
    "INCLUDE (type, amount_incl_vat, issue_date, number)",
    "CREATE INDEX document_list_by_type ON document (client_number_id, type, issue_date, id) "
    "INCLUDE (amount_incl_vat, number)",
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
    for name in ("document_list_by_number", "document_list_by_due_date", "document_list_by_type"):
        manager.add_raw_backwards(_drop(name))
    return manager
