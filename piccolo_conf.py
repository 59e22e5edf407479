"""Entry point for the piccolo CLI, run from the project root; the app uses iportal.db."""

from iportal.db import APP_REGISTRY, DB

__all__ = ["APP_REGISTRY", "DB"]
