"""The font of the PDFs the portal draws itself (duplicates' stamps, demo invoices)."""

from __future__ import annotations

import functools
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/local/share/fonts/DejaVuSans.ttf"),
)


@functools.cache
def font_name() -> str:
    """DejaVu Sans when installed (embedded, subset), else the standard Helvetica,
    whose WinAnsi encoding also has the € sign."""
    path = next((path for path in FONT_CANDIDATES if path.exists()), None)
    if path is None:
        return "Helvetica"
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(path)))
    return "DejaVuSans"
