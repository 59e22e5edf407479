"""A main contact who had switched off a number's notices keeps them off, now as their
own switch: the number-wide flag `client_number.notifications_enabled` no longer
silences the number's shared users (each has a switch of their own)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T04:00:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "the main contacts' switched-off numbers become their own opt-outs"

# A digest reads the events processed since a person's documents began to wait.
INDEX = (
    "CREATE INDEX document_event_processed ON document_event (processed_at) "
    "WHERE processed_at IS NOT NULL"
)

FORWARDS = """
INSERT INTO notice_opt_out (user_id, client_number_id, created_at)
SELECT m.user_id, cn.id, cn.updated_at
  FROM client_number cn
  JOIN account_membership m ON m.account_id = cn.account_id AND m.role = 'main_contact'
 WHERE NOT cn.notifications_enabled
ON CONFLICT (user_id, client_number_id) DO NOTHING
"""
# Back: the main contacts' opt-outs become the number's flag again.
BACKWARDS = """
UPDATE client_number cn SET notifications_enabled = false
  FROM notice_opt_out o
  JOIN account_membership m ON m.user_id = o.user_id AND m.role = 'main_contact'
 WHERE o.client_number_id = cn.id AND m.account_id = cn.account_id
"""


def _run(statement):
    async def run():  # inside the migration's transaction
        engine = engine_finder()
        await engine.run_ddl(statement)

    return run


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notifications", description=DESCRIPTION)
    manager.add_raw(_run(FORWARDS))
    manager.add_raw(_run(INDEX))
    manager.add_raw_backwards(_run(BACKWARDS))
    manager.add_raw_backwards(_run("DROP INDEX IF EXISTS document_event_processed"))
    return manager
