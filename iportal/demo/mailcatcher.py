"""A local SMTP server (aiosmtpd) that keeps every message as an `.eml` file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class EmlFolderHandler:
    """Writes each message it receives to `<folder>/<time>-<n>.eml`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        name = f"{time.time_ns()}-{os.getpid()}-{self.count}.eml"
        temporary = self.folder / f".{name}"
        temporary.write_bytes(envelope.original_content or envelope.content)
        temporary.replace(self.folder / name)
        return "250 Message accepted for delivery"


def start_mail_catcher(folder: Path, host: str, port: int) -> Controller:
    controller = Controller(EmlFolderHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


__all__ = ["EmlFolderHandler", "start_mail_catcher"]
