"""The printable eTracking sheet the user joins to the paper form (F71)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
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

LUXEMBOURG = ZoneInfo("Europe/Luxembourg")
_QR_SIZE = 40 * mm


@dataclass(frozen=True, slots=True)
class _Wording:
    title: str
    form: str  # {code}, {administration}
    number: str
    created: str  # {date}
    instructions: str  # {url}
    months: tuple[str, ...]
    date: str  # {day}, {month}, {year}, {time}


_WORDING: Mapping[Language, _Wording] = MappingProxyType(
    {
        Language.FR: _Wording(
            title="Feuille eTracking",
            form="Formulaire {code} — {administration}",
            number="Numéro eTracking",
            created="Créée le {date} (heure de Luxembourg)",
            instructions=(
                "Imprimez cette feuille et joignez-la à votre formulaire papier complété. "
                "Suivez l'avancement de votre démarche sur {url} ou en scannant le code QR."
            ),
            months=(
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ),
            date="{day} {month} {year} à {time}",
        ),
        Language.DE: _Wording(
            title="eTracking-Blatt",
            form="Formular {code} — {administration}",
            number="eTracking-Nummer",
            created="Erstellt am {date} (Luxemburger Zeit)",
            instructions=(
                "Drucken Sie dieses Blatt aus und legen Sie es Ihrem ausgefüllten Papierformular "
                "bei. Verfolgen Sie den Stand Ihres Vorgangs unter {url} oder durch Scannen des "
                "QR-Codes."
            ),
            months=(
                "Januar",
                "Februar",
                "März",
                "April",
                "Mai",
                "Juni",
                "Juli",
                "August",
                "September",
                "Oktober",
                "November",
                "Dezember",
            ),
            date="{day}. {month} {year}, {time} Uhr",
        ),
        Language.EN: _Wording(
            title="eTracking sheet",
            form="Form {code} — {administration}",
            number="eTracking number",
            created="Created on {date} (Luxembourg time)",
            instructions=(
                "Print this sheet and attach it to your completed paper form. "
                "Follow its progress at {url} or by scanning the QR code."
            ),
            months=(
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ),
            date="{day} {month} {year} at {time}",
        ),
    }
)


def format_luxembourg_time(moment: datetime, language: Language) -> str:
    """An aware instant as read in Luxembourg, e.g. "3 March 2025 at 14:05"."""
    if moment.tzinfo is None:
        raise ValueError("created_at must be timezone-aware (times are stored in UTC)")
    local = moment.astimezone(LUXEMBOURG)
    wording = _WORDING[language]
    return wording.date.format(
        day=local.day,
        month=wording.months[local.month - 1],
        year=local.year,
        time=local.strftime("%H:%M"),
    )


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
    wording = _WORDING[language]
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    centred = ParagraphStyle("centred", parent=body, alignment=TA_CENTER)
    big_number = ParagraphStyle(
        "number", parent=centred, fontName="Helvetica-Bold", fontSize=30, leading=36
    )
    administration = administration_name(form.administration, language)

    barcode = createBarcodeDrawing(
        "Code128", value=number.canonical, barHeight=18 * mm, barWidth=0.38 * mm, quiet=True
    )
    codes = Table([[barcode, _qr_code(lookup_url)]], colWidths=[110 * mm, 50 * mm])
    codes.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 0), (-1, -1), "CENTER")])
    )

    story = [
        Paragraph(escape(wording.title), styles["Title"]),
        Paragraph(f"<b>{escape(form.title(language))}</b>", centred),
        Paragraph(
            escape(wording.form.format(code=form.code, administration=administration)), centred
        ),
        Spacer(1, 12 * mm),
        Paragraph(escape(wording.number), centred),
        Paragraph(escape(number.display), big_number),
        Spacer(1, 8 * mm),
        codes,
        Spacer(1, 10 * mm),
        Paragraph(
            escape(wording.created.format(date=format_luxembourg_time(created_at, language))), body
        ),
        Paragraph(escape(wording.instructions.format(url=lookup_url)), body),
    ]

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{wording.title} {number.display}",
        author="OpenGuichet",
        creator="OpenGuichet eTracking",
        subject=form.title(language),
        lang=language.value,
        invariant=1,  # fixed creation date and document id, so the bytes are reproducible
    )
    document.build(story)
    return buffer.getvalue()
