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
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from iportal import i18n
from iportal.documents.einvoice_view._shown import ShownInvoice, ShownParty
from iportal.documents.fonts import font_name
from iportal.i18n import N_, gettext

RENDERING_MARK = N_(
    "Rendering of the e-invoice: the structured data (XML) is the original document."
)
GREY = colors.Color(0.93, 0.93, 0.93)
MARK_COLOUR = colors.Color(0.55, 0.1, 0.1)


def _styles() -> dict[str, ParagraphStyle]:
    font = font_name()
    body = ParagraphStyle("body", fontName=font, fontSize=8.5, leading=10.5)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9),
        "right": ParagraphStyle("right", parent=body, alignment=2),
        "title": ParagraphStyle("title", parent=body, fontSize=15, leading=19, spaceAfter=4),
        "heading": ParagraphStyle("heading", parent=body, fontSize=10.5, leading=14, spaceBefore=6),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


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
                    [_p(c, s["body"] if i < 2 else s["right"]) for i, c in enumerate(row)]
                    for row in invoice.allowances_charges
                ],
                [110 * mm, 30 * mm, 40 * mm],
                header=False,
            ),
        ]
    if invoice.vat_rows:
        story += [
            _p(heading["vat"], s["heading"]),
            _grid(
                [[_p(h, s["body"]) for h in invoice.vat_headings]]
                + [
                    [_p(c, s["body"] if i == 0 else s["right"]) for i, c in enumerate(row)]
                    for row in invoice.vat_rows
                ],
                [80 * mm, 25 * mm, 40 * mm, 35 * mm],
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
) -> Table:
    value_style = s["right"] if right else s["body"]
    data = [[_p(label, s["body"]), _p(value, value_style)] for label, value in rows] or [["", ""]]
    widths = [60 * mm, 40 * mm] if right else [45 * mm, 135 * mm]
    return _grid(data, widths, header=False, lines=False)


def _parties(parties: tuple[ShownParty, ...], s: dict[str, ParagraphStyle]) -> Table:
    cells = []
    for party in parties:
        text = [f"<b>{escape(party.title)}</b>", escape(party.name)]
        text += [escape(f"{k}: {v}" if k else v) for k, v in party.details]
        cells.append(Paragraph("<br/>".join(text), s["body"]))
    width = 180 * mm / max(len(cells), 1)
    return _grid([cells], [width] * len(cells), header=False, lines=False)


def _lines(invoice: ShownInvoice, s: dict[str, ParagraphStyle]) -> Table:
    data: list[list[Any]] = [[_p(h, s["small"]) for h in invoice.line_headings]]
    for line in invoice.lines:
        name = "\n".join((line.cells[1], *line.details))
        cells = [line.cells[0], name, *line.cells[2:]]
        data.append(
            [
                _p(
                    c,
                    s["small"]
                    if i < 2 or i == 3
                    else ParagraphStyle("r", parent=s["small"], alignment=2),
                )
                for i, c in enumerate(cells)
            ]
        )
    widths = [10 * mm, 68 * mm, 17 * mm, 20 * mm, 23 * mm, 15 * mm, 27 * mm]
    return _grid(data, widths)


def _grid(
    data: list[list[Any]], widths: list[float], header: bool = True, lines: bool = True
) -> Table:
    table = Table(data, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style: list[Any] = [("VALIGN", (0, 0), (-1, -1), "TOP")]
    if lines:
        style.append(("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey))
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), GREY))
    table.setStyle(TableStyle(style))
    return table
