"""A plain table for the rendered PDF: rows of cells in fixed columns, a line under
each row, a grey header repeated on every page it runs onto.

ReportLab's `Table` does far more (spans, styles per cell, nested flowables) and pays
for it on every cell: a 50-line invoice spent most of its time there. Here the cells
that fit on their lines are written into one text object per table part, and only a
cell that must wrap is a `Paragraph`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, TypeAlias

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph

PAD_X = 6.0  # left and right of a cell's text (ReportLab's table default)
PAD_Y = 3.0  # above and below
GREY = colors.Color(0.93, 0.93, 0.93)
LINE = colors.grey

Cell: TypeAlias = "str | Paragraph"


@dataclass(frozen=True)
class GridStyle:
    font: str
    size: float
    leading: float
    right: tuple[int, ...] = ()  # columns aligned right (amounts)
    header: bool = True  # the first row is a header, repeated on every page
    lines: bool = True  # a line under each row


@functools.lru_cache(maxsize=4096)
def text_width(text: str, font: str, size: float) -> float:
    """A line's width; asked twice for a right-aligned cell (does it fit, where does it
    start), and often for the same amounts, rates and units."""
    return float(stringWidth(text, font, size))


def fits(text: str, style: ParagraphStyle, width: float) -> bool:
    """Whether each line of `text` fits a cell `width` wide, unwrapped."""
    room = width - 2 * PAD_X
    size = style.fontSize
    return all(text_width(line, style.fontName, size) <= room for line in text.split("\n"))


class Grid(Flowable):  # type: ignore[misc]  # ReportLab has no type hints
    def __init__(self, rows: list[list[Cell]], widths: list[float], style: GridStyle) -> None:
        super().__init__()
        self.rows = rows
        self.widths = widths
        self.style = style
        self._heights: list[float] | None = None

    def _row_height(self, row: list[Cell]) -> float:
        tallest = 0.0
        for cell, width in zip(row, self.widths, strict=False):
            if isinstance(cell, str):
                height = (cell.count("\n") + 1) * self.style.leading
            else:
                height = cell.wrap(width - 2 * PAD_X, 1e6)[1]
            tallest = max(tallest, height)
        return tallest + 2 * PAD_Y

    def _row_heights(self) -> list[float]:
        if self._heights is None:
            self._heights = [self._row_height(row) for row in self.rows]
        return self._heights

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = sum(self.widths)
        self.height = sum(self._row_heights())
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Grid]:
        heights = self._row_heights()
        first = 1 if self.style.header else 0
        used, count = 0.0, 0
        for height in heights:
            if used + height > available_height:
                break
            used += height
            count += 1
        if count <= first or count == len(self.rows):
            return []  # not even one row fits here (or everything does: no split)
        head = self.rows[:first]
        return [
            Grid(self.rows[:count], self.widths, self.style),
            Grid(head + self.rows[count:], self.widths, self.style),
        ]

    def draw(self) -> None:
        canvas: Any = self.canv
        style = self.style
        heights = self._row_heights()
        lefts = [sum(self.widths[:i]) for i in range(len(self.widths))]
        if style.header and self.rows:
            canvas.setFillColor(GREY)
            canvas.rect(0, self.height - heights[0], self.width, heights[0], stroke=0, fill=1)
            canvas.setFillColor(colors.black)
        text = canvas.beginText()
        text.setFont(style.font, style.size, style.leading)
        rules = []
        top = self.height
        for row, height in zip(self.rows, heights, strict=True):
            for column, cell in enumerate(row):
                left, width = lefts[column], self.widths[column]
                if isinstance(cell, str):
                    baseline = top - PAD_Y - style.size
                    for line in cell.split("\n"):
                        x = left + PAD_X
                        if column in style.right:
                            x = left + width - PAD_X - text_width(line, style.font, style.size)
                        text.setTextOrigin(x, baseline)
                        text.textOut(line)
                        baseline -= style.leading
                else:  # wrapped to its width when the row's height was measured
                    cell.drawOn(canvas, left + PAD_X, top - PAD_Y - cell.height)
            top -= height
            rules.append((0, top, self.width, top))
        canvas.drawText(text)
        if style.lines and rules:
            canvas.setStrokeColor(LINE)
            canvas.setLineWidth(0.25)
            canvas.lines(rules)
