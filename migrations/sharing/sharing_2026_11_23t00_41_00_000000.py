"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T00:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes"

STATEMENTS = [
    "CREATE INDEX shared_user_user ON shared_user (user_id)",
    "CREATE INDEX client_number_grant_number ON client_number_grant (client_number_id)",
]


def _drop(name: str):
    async def run():  # inside the migration's transaction
        engine = engine_finder()
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    return run


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="sharing", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(_drop("shared_user_user"))
    manager.add_raw_backwards(_drop("client_number_grant_number"))
    return manager
