"""The PDF made from the XML when the issuer sent none: the same readable invoice as
the page, on A4, every page marked as a rendering of the e-invoice (the XML is the
original, this is a picture of it)."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from iportal import i18n
from iportal.documents.einvoice_view._grid import Cell, Grid, GridStyle, fits
from iportal.documents.einvoice_view._shown import ShownInvoice, ShownParty
from iportal.documents.fonts import font_name
from iportal.i18n import N_, gettext

RENDERING_MARK = N_(
    "Rendering of the e-invoice: the structured data (XML) is the original document."
)
ALLOWANCE_WIDTHS = [110 * mm, 30 * mm, 40 * mm]
VAT_WIDTHS = [80 * mm, 25 * mm, 40 * mm, 35 * mm]
MARK_COLOUR = colors.Color(0.55, 0.1, 0.1)


def _styles() -> dict[str, ParagraphStyle]:
    font = font_name()
    body = ParagraphStyle("body", fontName=font, fontSize=8.5, leading=10.5)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9),
        "small_right": ParagraphStyle(
            "small_right", parent=body, fontSize=7.5, leading=9, alignment=2
        ),
        "right": ParagraphStyle("right", parent=body, alignment=2),
        "title": ParagraphStyle("title", parent=body, fontSize=15, leading=19, spaceAfter=4),
        "heading": ParagraphStyle("heading", parent=body, fontSize=10.5, leading=14, spaceBefore=6),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


# A cell never fills a page: a stranger's text is cut to what a row can hold.
CELL_MAX_LENGTH = 1500


def _cell(text: str, style: ParagraphStyle, width: float) -> Cell:
    """A cell's text: plain (written line by line, in the grid's font and alignment) when
    each of its lines fits the cell, else a paragraph that wraps (twenty times dearer)."""
    text = text[:CELL_MAX_LENGTH]
    return text if fits(text, style, width) else _p(text, style)


def render_pdf(invoice: ShownInvoice, language: str) -> bytes:
    """The invoice as A4 pages in `language`, marked on every page as a rendering."""
    with i18n.using_language(language):
        mark = gettext(RENDERING_MARK)
        heading = {
            key: gettext(text)
            for key, text in (
                ("lines", N_("Lines")),
                ("allowances", N_("Document allowances and charges")),
                ("vat", N_("VAT breakdown")),
                ("totals", N_("Totals")),
                ("payable", N_("Amount due")),
                ("payment", N_("Payment")),
                ("notes", N_("Notes")),
                ("attachments", N_("Attachments")),
            )
        }
    s = _styles()
    story: list[Any] = [_p(invoice.title, s["title"]), _rows(invoice.facts, s)]
    story += [Spacer(1, 4 * mm), _parties(invoice.parties, s)]
    story += [_p(heading["lines"], s["heading"]), _lines(invoice, s)]
    if invoice.allowances_charges:
        story += [
            _p(heading["allowances"], s["heading"]),
            _grid(
                [
                    [
                        _cell(c, s["body"] if i < 2 else s["right"], ALLOWANCE_WIDTHS[i])
                        for i, c in enumerate(row)
                    ]
                    for row in invoice.allowances_charges
                ],
                ALLOWANCE_WIDTHS,
                s["body"],
                header=False,
                right=(2,),
            ),
        ]
    if invoice.vat_rows:
        story += [
            _p(heading["vat"], s["heading"]),
            _grid(
                [
                    [
                        _cell(c, s["body"] if i == 0 else s["right"], VAT_WIDTHS[i])
                        for i, c in enumerate(row)
                    ]
                    for row in (invoice.vat_headings, *invoice.vat_rows)
                ],
                VAT_WIDTHS,
                s["body"],
                right=(1, 2, 3),
            ),
        ]
    totals = [*invoice.totals, (heading["payable"], invoice.payable)]
    story += [_p(heading["totals"], s["heading"]), _rows(tuple(totals), s, right=True)]
    if invoice.payment:
        story += [_p(heading["payment"], s["heading"]), _rows(invoice.payment, s)]
    attachments = tuple(
        f"{a.label} ({a.about})" if a.about else a.label for a in invoice.attachments
    )
    for key, items in (("notes", invoice.notes), ("attachments", attachments)):
        if items:
            story += [_p(heading[key], s["heading"]), *(_p(item, s["body"]) for item in items)]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{invoice.title} — {mark}",
        # The same XML gives the same bytes, whoever asks and when: the issuer checks
        # exactly what its clients get (no creation date, an ID made from the content).
        invariant=1,
    )

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font_name(), 7.5)
        canvas.setFillColor(MARK_COLOUR)
        canvas.drawString(15 * mm, A4[1] - 10 * mm, mark)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"{invoice.title} — {doc.page}")
        canvas.restoreState()

    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def _rows(
    rows: tuple[tuple[str, str], ...], s: dict[str, ParagraphStyle], right: bool = False
) -> Grid:
    widths = [60 * mm, 40 * mm] if right else [45 * mm, 135 * mm]
    value_style = s["right"] if right else s["body"]
    data = [
        [_cell(label, s["body"], widths[0]), _cell(value, value_style, widths[1])]
        for label, value in rows
    ] or [["", ""]]
    return _grid(data, widths, s["body"], header=False, lines=False, right=(1,) if right else ())


def _parties(parties: tuple[ShownParty, ...], s: dict[str, ParagraphStyle]) -> Grid:
    cells = []
    for party in parties:
        details = "\n".join([party.name, *(f"{k}: {v}" if k else v for k, v in party.details)])
        text = [f"<b>{escape(party.title)}</b>", escape(details[:CELL_MAX_LENGTH])]
        cells.append(Paragraph("<br/>".join(text).replace("\n", "<br/>"), s["body"]))
    width = 180 * mm / max(len(cells), 1)
    return _grid([cells], [width] * len(cells), s["body"], header=False, lines=False)


LINE_WIDTHS = [10 * mm, 68 * mm, 17 * mm, 20 * mm, 23 * mm, 15 * mm, 27 * mm]
LINE_RIGHT = (2, 4, 5, 6)  # quantity, unit price, VAT, line total


def _lines(invoice: ShownInvoice, s: dict[str, ParagraphStyle]) -> Grid:
    small, right = s["small"], s["small_right"]
    data: list[list[Any]] = [
        [_cell(h, small, w) for h, w in zip(invoice.line_headings, LINE_WIDTHS, strict=False)]
    ]
    for line in invoice.lines:
        name = "\n".join((line.cells[1], *line.details))
        cells = [line.cells[0], name, *line.cells[2:]]
        data.append(
            [
                _cell(c, right if i in LINE_RIGHT else small, LINE_WIDTHS[i])
                for i, c in enumerate(cells)
            ]
        )
    return _grid(data, LINE_WIDTHS, small, right=LINE_RIGHT)


def _grid(
    data: list[list[Any]],
    widths: list[float],
    style: ParagraphStyle,
    header: bool = True,
    lines: bool = True,
    right: tuple[int, ...] = (),
) -> Grid:
    grid_style = GridStyle(style.fontName, style.fontSize, style.leading, right, header, lines)
    return Grid(data, widths, grid_style)
