"""Indexes of hand-overs: the pending one of an account, and the people's (whose
removal cascades)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T03:52:42:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes of main contact hand-overs"

INDEXES = {
    "main_contact_handover_pending": "main_contact_handover (account_id) "
    "WHERE completed_at IS NULL AND cancelled_at IS NULL",
    "main_contact_handover_from_user": "main_contact_handover (from_user_id)",
    "main_contact_handover_to_user": "main_contact_handover (to_user_id)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="sharing", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for name, target in INDEXES.items():
            await engine.run_ddl(f"CREATE INDEX {name} ON {target}")

    async def back():
        engine = engine_finder()
        for name in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
