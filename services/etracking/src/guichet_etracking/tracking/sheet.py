"""The printable eTracking sheet the user joins to the paper form (F71)."""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.graphics.barcode import createBarcodeDrawing
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from guichet_etracking.tracking.catalogue import PaperForm, administration_name
from guichet_etracking.tracking.contact import Language
from guichet_etracking.tracking.number import TrackingNumber
from guichet_kit.i18n import Catalog, format_moment, speaking

LUXEMBOURG = ZoneInfo("Europe/Luxembourg")
_QR_SIZE = 40 * mm


_ = Catalog("guichet_etracking")


def format_luxembourg_time(moment: datetime, language: Language) -> str:
    """An aware instant as read in Luxembourg, e.g. "3 March 2025 at 14:05"."""
    return format_moment(moment, language)


def _qr_code(value: str) -> Drawing:
    widget = QrCodeWidget(value, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(
        _QR_SIZE, _QR_SIZE, transform=[_QR_SIZE / (x1 - x0), 0, 0, _QR_SIZE / (y1 - y0), 0, 0]
    )
    drawing.add(widget)
    return drawing


def render_tracking_sheet(
    number: TrackingNumber,
    form: PaperForm,
    language: Language,
    created_at: datetime,
    lookup_url: str,
) -> bytes:
    """An A4 PDF; identical inputs give identical bytes (no timestamps or random ids inside)."""
    with speaking(language):
        title = _("eTracking sheet").render()
        form_line = _(
            "Form {code} — {administration}",
            code=form.code,
            administration=administration_name(form.administration, language),
        ).render()
        number_label = _("eTracking number").render()
        created = _(
            "Created on {date} (Luxembourg time)", date=format_moment(created_at, language)
        ).render()
        instructions = _(
            "Print this sheet and attach it to your completed paper form. "
            "Follow its progress at {url} or by scanning the QR code.",
            url=lookup_url,
        ).render()
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    centred = ParagraphStyle("centred", parent=body, alignment=TA_CENTER)
    big_number = ParagraphStyle(
        "number", parent=centred, fontName="Helvetica-Bold", fontSize=30, leading=36
    )

    barcode = createBarcodeDrawing(
        "Code128", value=number.canonical, barHeight=18 * mm, barWidth=0.38 * mm, quiet=True
    )
    codes = Table([[barcode, _qr_code(lookup_url)]], colWidths=[110 * mm, 50 * mm])
    codes.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 0), (-1, -1), "CENTER")])
    )

    story = [
        Paragraph(escape(title), styles["Title"]),
        Paragraph(f"<b>{escape(form.title(language))}</b>", centred),
        Paragraph(escape(form_line), centred),
        Spacer(1, 12 * mm),
        Paragraph(escape(number_label), centred),
        Paragraph(escape(number.display), big_number),
        Spacer(1, 8 * mm),
        codes,
        Spacer(1, 10 * mm),
        Paragraph(escape(created), body),
        Paragraph(escape(instructions), body),
    ]

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{title} {number.display}",
        author="OpenGuichet",
        creator="OpenGuichet eTracking",
        subject=form.title(language),
        lang=language.value,
        invariant=1,  # fixed creation date and document id, so the bytes are reproducible
    )
    document.build(story)
    return buffer.getvalue()
