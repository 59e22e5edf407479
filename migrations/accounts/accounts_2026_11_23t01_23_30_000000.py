"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T01:23:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for opt-in and security tables; new audit kinds"

STATEMENTS = [
    "CREATE INDEX throttle_attempt_bucket_at ON throttle_attempt (bucket, at)",
    "CREATE INDEX throttle_attempt_at ON throttle_attempt (at)",
    "CREATE INDEX registration_activation_code ON registration (activation_code_id)",
    "CREATE INDEX password_reset_user ON password_reset (user_id)",
    "CREATE INDEX personal_token_user ON personal_token (user_id)",
    # piccolo's auto migrations do not see a changed check condition.
    "ALTER TABLE audit_event DROP CONSTRAINT kind_known",
    "ALTER TABLE audit_event ADD CONSTRAINT kind_known CHECK (kind IN ("
    "'login_succeeded', 'login_failed', 'logout', 'code_redeemed', 'opted_out', 'password_changed', 'password_reset', 'totp_enabled', 'totp_disabled', 'token_created', 'token_revoked', 'shared_user_created', 'shared_user_updated', 'shared_user_deleted', 'grant_added', 'grant_revoked', 'document_opened', 'duplicate_requested', 'registration_started', 'opted_in', 'account_locked', 'recovery_code_used', 'password_reset_requested'"
    "))",
]


def _drop(name: str):
    async def run():  # inside the migration's transaction
        engine = engine_finder()
        await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    return run


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():  # inside the migration's transaction
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    for name in ("throttle_attempt_bucket_at", "throttle_attempt_at", "registration_activation_code",
                 "password_reset_user", "personal_token_user"):
        manager.add_raw_backwards(_drop(name))
    return manager
