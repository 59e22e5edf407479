"""A duplicate is the original PDF with DUPLICATE and the date stamped on every page."""

from __future__ import annotations

import io
from datetime import date

from pypdf import PdfReader, PdfWriter
from reportlab.lib.colors import Color
from reportlab.pdfgen import canvas

from iportal.documents.fonts import font_name

STAMP_COLOUR = Color(0.75, 0.1, 0.1, alpha=0.55)


def _stamp(width: float, height: float, when: date) -> PdfReader:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=(width, height))
    page.setFillColor(STAMP_COLOUR)
    page.setStrokeColor(STAMP_COLOUR)
    page.translate(width / 2, height / 2)
    page.rotate(35)
    page.setFont(font_name(), 64)
    page.drawCentredString(0, 10, "DUPLICATE")
    page.setFont(font_name(), 18)
    page.drawCentredString(0, -22, when.isoformat())
    page.save()
    return PdfReader(io.BytesIO(buffer.getvalue()))


def stamp_duplicate(original: bytes, when: date) -> bytes:
    """Every page of `original` with the stamp over it; the text stays selectable."""
    writer = PdfWriter(clone_from=io.BytesIO(original))
    for page in writer.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        page.merge_page(_stamp(width, height, when).pages[0])
    writer.add_metadata({"/Title": f"DUPLICATE {when.isoformat()}"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
