"""The piccolo app of `iportal.sharing`; its migrations live in `migrations/sharing/`."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from iportal.sharing.tables import (
    Grant,
    MainContactHandover,
    SharedUser,
)

APP_CONFIG = AppConfig(
    app_name="sharing",
    migrations_folder_path=Path(__file__).resolve().parents[2] / "migrations" / "sharing",
    table_classes=[
        SharedUser,
        Grant,
        MainContactHandover,
    ],
    migration_dependencies=["iportal.accounts.piccolo_app", "iportal.documents.piccolo_app"],
)
