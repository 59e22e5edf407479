"""Indexes that piccolo columns cannot express (composite, partial, covering)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T00:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes"

STATEMENTS = [
    "CREATE INDEX audit_event_account_at ON audit_event (account_id, at DESC, id DESC)",
    "CREATE INDEX audit_event_client_number ON audit_event (client_number_id, at DESC)",
    "CREATE INDEX user_session_user_active ON user_session (user_id) WHERE revoked_at IS NULL",
    "CREATE INDEX client_number_account ON client_number (account_id) WHERE account_id IS NOT NULL",
    "CREATE INDEX client_number_issuer ON client_number (issuer_id, client_code)",
    "CREATE INDEX client_number_alias_number ON client_number_alias (client_number_id)",
    "CREATE INDEX activation_code_client_number ON activation_code (client_number_id, communicated_at DESC)",
    "CREATE INDEX account_membership_user ON account_membership (user_id)",
    "CREATE INDEX issuer_api_key_issuer ON issuer_api_key (issuer_id)",
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
    manager.add_raw_backwards(_drop("audit_event_account_at"))
    manager.add_raw_backwards(_drop("audit_event_client_number"))
    manager.add_raw_backwards(_drop("user_session_user_active"))
    manager.add_raw_backwards(_drop("client_number_account"))
    manager.add_raw_backwards(_drop("client_number_issuer"))
    manager.add_raw_backwards(_drop("client_number_alias_number"))
    manager.add_raw_backwards(_drop("activation_code_client_number"))
    manager.add_raw_backwards(_drop("account_membership_user"))
    manager.add_raw_backwards(_drop("issuer_api_key_issuer"))
    return manager
