"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T01:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "blob hash indexes"

STATEMENTS = [
    "CREATE INDEX document_pdf_blob ON document (pdf_blob_hash) WHERE pdf_blob_hash IS NOT NULL",
    "CREATE INDEX document_xml_blob ON document (xml_blob_hash) WHERE xml_blob_hash IS NOT NULL",
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
    manager.add_raw_backwards(_drop("document_pdf_blob"))
    manager.add_raw_backwards(_drop("document_xml_blob"))
    return manager
