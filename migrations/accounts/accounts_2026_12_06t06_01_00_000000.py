"""Audit kinds for forwarding documents to accounting software."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T06:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit kinds for forwarding"

# piccolo's auto migrations do not see a changed check condition.
STATEMENTS = [
    "ALTER TABLE audit_event DROP CONSTRAINT kind_known",
    "ALTER TABLE audit_event ADD CONSTRAINT kind_known CHECK (kind IN ("
    "'login_succeeded', 'login_failed', 'logout', 'code_redeemed', 'opted_out', 'password_changed', 'password_reset', 'totp_enabled', 'totp_disabled', 'token_created', 'token_revoked', 'shared_user_created', 'shared_user_updated', 'shared_user_deleted', 'grant_added', 'grant_revoked', 'document_opened', 'duplicate_requested', 'registration_started', 'opted_in', 'account_locked', 'recovery_code_used', 'password_reset_requested', 'forwarding_address_added', 'forwarding_address_confirmed', 'forwarding_address_removed', 'document_forwarded'"
    "))",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
