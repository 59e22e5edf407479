"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T06:00:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for forwarded documents"

STATEMENTS = [
    # An address's latest forward tells whether it is failing.
    "CREATE INDEX outbox_email_forwarding_address ON outbox_email (forwarding_address_id, id) "
    "WHERE forwarding_address_id IS NOT NULL",
    # `iportal outbox` lists the forwards, newest first.
    "CREATE INDEX outbox_email_forwarded ON outbox_email (created_at DESC) "
    "WHERE document_id IS NOT NULL",
    "CREATE INDEX forwarding_address_user ON forwarding_address (user_id)",
]
NAMES = ("outbox_email_forwarding_address", "outbox_email_forwarded", "forwarding_address_user")


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
    for name in NAMES:
        manager.add_raw_backwards(_drop(name))
    return manager
