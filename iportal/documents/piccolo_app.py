"""The piccolo app of `iportal.documents`; its migrations live in `migrations/documents/`."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from iportal.documents.tables import (
    Document,
    DuplicateRequest,
    ReadMark,
)

APP_CONFIG = AppConfig(
    app_name="documents",
    migrations_folder_path=Path(__file__).resolve().parents[2] / "migrations" / "documents",
    table_classes=[
        Document,
        ReadMark,
        DuplicateRequest,
    ],
    migration_dependencies=["iportal.accounts.piccolo_app"],
)
