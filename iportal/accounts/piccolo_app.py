"""The piccolo app of `iportal.accounts`; its migrations live in `migrations/accounts/`."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from iportal.accounts.tables import (
    Account,
    AccountMembership,
    ActivationCode,
    AuditEvent,
    ClientNumber,
    ClientNumberAlias,
    Issuer,
    IssuerApiKey,
    PasswordReset,
    PasswordResetRequest,
    PersonalToken,
    PortalUser,
    RecoveryCode,
    Registration,
    ThrottleAttempt,
    UserSession,
)

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=Path(__file__).resolve().parents[2] / "migrations" / "accounts",
    table_classes=[
        Issuer,
        IssuerApiKey,
        Account,
        PortalUser,
        AccountMembership,
        ClientNumber,
        ClientNumberAlias,
        ActivationCode,
        UserSession,
        AuditEvent,
        Registration,
        PasswordReset,
        PasswordResetRequest,
        RecoveryCode,
        PersonalToken,
        ThrottleAttempt,
    ],
    migration_dependencies=[],
)
