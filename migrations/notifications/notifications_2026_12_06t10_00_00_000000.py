"""Wake the worker: a statement that adds document events or e-mails to the outbox
tells it (NOTIFY, delivered at commit, one per transaction), so that it does not wait
for its next poll."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notify the worker of new document events and e-mails"

STATEMENTS = [
    "CREATE FUNCTION wake_worker() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN PERFORM pg_notify('iportal_worker', ''); RETURN NULL; END $$",
    "CREATE TRIGGER document_event_wakes_worker AFTER INSERT ON document_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION wake_worker()",
    "CREATE TRIGGER outbox_email_wakes_worker AFTER INSERT ON outbox_email "
    "FOR EACH STATEMENT EXECUTE FUNCTION wake_worker()",
]
BACKWARDS = [
    "DROP TRIGGER IF EXISTS outbox_email_wakes_worker ON outbox_email",
    "DROP TRIGGER IF EXISTS document_event_wakes_worker ON document_event",
    "DROP FUNCTION IF EXISTS wake_worker()",
]


def _run(statements: list[str]):
    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for statement in statements:
            await engine.run_ddl(statement)

    return run


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)
    manager.add_raw(_run(STATEMENTS))
    manager.add_raw_backwards(_run(BACKWARDS))
    return manager
