"""The piccolo app of `iportal.notifications`; migrations in `migrations/notifications/`."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from iportal.notifications.tables import (
    DeliveryProblem,
    DeliveryReport,
    DocumentEvent,
    ForwardingAddress,
    NoticeDigest,
    NoticeOptOut,
    OutboxEmail,
)

APP_CONFIG = AppConfig(
    app_name="notifications",
    migrations_folder_path=Path(__file__).resolve().parents[2] / "migrations" / "notifications",
    table_classes=[
        ForwardingAddress,
        OutboxEmail,
        DocumentEvent,
        NoticeOptOut,
        NoticeDigest,
        DeliveryProblem,
        DeliveryReport,
    ],
    migration_dependencies=["iportal.accounts.piccolo_app", "iportal.documents.piccolo_app"],
)
