"""Held messages, and the indexes that piccolo columns cannot express (partial, on an
expression): one open problem per address, messages waiting for an address."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T05:06:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "held messages; indexes for delivery problems and reports"

STATEMENTS = [
    "ALTER TABLE outbox_email DROP CONSTRAINT state_known, "
    "ADD CONSTRAINT state_known CHECK (state IN ('pending', 'sent', 'failed', 'held'))",
    "CREATE UNIQUE INDEX delivery_problem_open ON delivery_problem (email) "
    "WHERE cleared_at IS NULL",
    "CREATE INDEX delivery_problem_outbox_email ON delivery_problem (outbox_email_id)",
    "CREATE INDEX delivery_report_outbox_email ON delivery_report (outbox_email_id)",
    "CREATE INDEX delivery_report_received ON delivery_report (received_at DESC)",
    "CREATE INDEX outbox_email_undelivered ON outbox_email (lower(recipient), created_at) "
    "WHERE state IN ('held', 'failed')",
    # Invitations still to go, held ones included (publishing queues one at a time).
    "CREATE INDEX outbox_email_client_number_waiting ON outbox_email "
    "(client_number_id, template) WHERE state IN ('pending', 'held')",
]
INDEXES = (
    "delivery_problem_open",
    "delivery_problem_outbox_email",
    "delivery_report_outbox_email",
    "delivery_report_received",
    "outbox_email_undelivered",
    "outbox_email_client_number_waiting",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def undo():
        engine = engine_finder()
        for name in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")
        await engine.run_ddl("UPDATE outbox_email SET state = 'failed' WHERE state = 'held'")
        await engine.run_ddl(
            "ALTER TABLE outbox_email DROP CONSTRAINT state_known, "
            "ADD CONSTRAINT state_known CHECK (state IN ('pending', 'sent', 'failed'))"
        )

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
