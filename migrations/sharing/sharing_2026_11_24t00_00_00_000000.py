"""The access rule from its one readable file: `entitled_client_numbers(user)` becomes
the text of `iportal/sharing/entitlement.sql` (the same rule as before, now laid out
and explained there), and everyone's visible client numbers are brought in line with it.

The file is read when the migration runs. `RULE_SHA256` is the rule this migration was
written for (the file's lines without trailing whitespace): a test compares it with the
file, so a changed rule cannot reach a database without a new migration like this one.
"""

from importlib.resources import files

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-24T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the access rule's function from iportal/sharing/entitlement.sql"
RULE_SHA256 = "0b479b55a72725c08532e0d54ebab50def8ff338d192f10917b304de66620f4d"

# What the triggers would do had the rule always been this one.
REFRESH = (
    "SELECT refresh_visibility(array(SELECT user_id FROM account_membership "
    "UNION SELECT user_id FROM shared_user))"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="sharing", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        rule = files("iportal.sharing").joinpath("entitlement.sql").read_text(encoding="utf-8")
        engine = engine_finder()
        await engine.run_ddl(rule)
        await engine.run_ddl(REFRESH)

    # Backwards: nothing to undo, the previous migration's function is the same rule.
    manager.add_raw(run)
    return manager
