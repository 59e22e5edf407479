"""Ticking many numbers at once refreshes the shared user's visibility once.

The grant trigger fired for each row: ticking 200 numbers refreshed the same person's
visible numbers 200 times over. It is now three statement triggers (insert, delete,
update) that read the changed rows from transition tables and refresh each person
concerned once per statement.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "grant triggers once per statement"

# The people whose grants changed. A grant whose shared user is being deleted has no
# user left to refresh: the shared user's own trigger refreshes them.
FORWARDS = [
    "DROP TRIGGER grant_changed ON client_number_grant",
    "DROP FUNCTION grant_changed()",
    *(
        f"""
    CREATE FUNCTION grants_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM refresh_visibility(array(
            SELECT su.user_id FROM shared_user su
             WHERE su.id IN ({rows})));
        RETURN NULL;
    END
    $$
    """
        for name, rows in (
            ("added", "SELECT shared_user_id FROM added_grants"),
            ("removed", "SELECT shared_user_id FROM removed_grants"),
            (
                "changed",
                "SELECT shared_user_id FROM old_grants UNION SELECT shared_user_id FROM new_grants",
            ),
        )
    ),
    "CREATE TRIGGER grants_added AFTER INSERT ON client_number_grant "
    "REFERENCING NEW TABLE AS added_grants FOR EACH STATEMENT EXECUTE FUNCTION grants_added()",
    "CREATE TRIGGER grants_removed AFTER DELETE ON client_number_grant "
    "REFERENCING OLD TABLE AS removed_grants FOR EACH STATEMENT "
    "EXECUTE FUNCTION grants_removed()",
    "CREATE TRIGGER grants_changed AFTER UPDATE ON client_number_grant "
    "REFERENCING OLD TABLE AS old_grants NEW TABLE AS new_grants FOR EACH STATEMENT "
    "EXECUTE FUNCTION grants_changed()",
]

BACKWARDS = [
    "DROP TRIGGER grants_added ON client_number_grant",
    "DROP TRIGGER grants_removed ON client_number_grant",
    "DROP TRIGGER grants_changed ON client_number_grant",
    "DROP FUNCTION grants_added()",
    "DROP FUNCTION grants_removed()",
    "DROP FUNCTION grants_changed()",
    """
    CREATE FUNCTION grant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM refresh_visibility(array_agg(su.user_id))
           FROM shared_user su
          WHERE su.id IN (
                CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.shared_user_id END,
                CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.shared_user_id END);
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER grant_changed AFTER INSERT OR UPDATE OR DELETE "
    "ON client_number_grant FOR EACH ROW EXECUTE FUNCTION grant_changed()",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="sharing", description=DESCRIPTION)

    async def run(statements: list[str]) -> None:
        engine = engine_finder()
        for statement in statements:
            await engine.run_ddl(statement)

    async def run_forwards():
        await run(FORWARDS)

    async def run_backwards():
        await run(BACKWARDS)

    manager.add_raw(run_forwards)
    manager.add_raw_backwards(run_backwards)
    return manager
