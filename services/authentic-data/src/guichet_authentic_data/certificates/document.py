"""The certificate's PDF, in the person's language: what the register says, the certificate's id,
and a QR code to the public verify page. Sealing is the kit's (`guichet_kit.seal`)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from guichet_authentic_data.registers.display import (
    address_text,
    country_text,
    date_text,
    person_name,
    role_text,
)
from guichet_authentic_data.registers.records import PersonRecord
from guichet_kit.i18n import Catalog, Language, Text, format_moment, speaking

_ = Catalog("guichet_authentic_data")
_QR_SIZE = 35 * mm


class CertificateKind(StrEnum):
    RESIDENCE = "residence"
    HOUSEHOLD = "household"


TITLES: dict[CertificateKind, Text] = {
    CertificateKind.RESIDENCE: _("Residence certificate"),
    CertificateKind.HOUSEHOLD: _("Household composition certificate"),
}


@dataclass(frozen=True)
class CertificateFacts:
    id: str
    kind: CertificateKind
    language: Language
    issued_at: datetime
    verify_url: str


def _qr_code(value: str) -> Drawing:
    widget = QrCodeWidget(value, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(
        _QR_SIZE, _QR_SIZE, transform=[_QR_SIZE / (x1 - x0), 0, 0, _QR_SIZE / (y1 - y0), 0, 0]
    )
    drawing.add(widget)
    return drawing


def _table(rows: list[list[str]], widths: list[float], header: bool = False) -> Table:
    styles = getSampleStyleSheet()
    cells = [[Paragraph(escape(cell), styles["BodyText"]) for cell in row] for row in rows]
    table = Table(cells, colWidths=widths)
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")))
    table.setStyle(TableStyle(style))
    return table


def render_certificate(facts: CertificateFacts, person: PersonRecord) -> bytes:
    """An A4 PDF of the certificate, unsealed."""
    language = facts.language
    with speaking(language):
        title = TITLES[facts.kind].render()
        intro = _(
            "The national register of natural persons certifies that the following person is "
            "registered at the address below on {date}.",
            date=date_text(facts.issued_at.date(), language),
        ).render()
        identity_rows = [
            [_("Surname").render(), person.surname],
            [_("Given names").render(), person.given_names],
            [_("Date of birth").render(), date_text(person.birth_date, language)],
            [_("Place of birth").render(), person.birth_place],
            [_("Nationality").render(), country_text(person.nationality, language)],
            [_("National identification number").render(), person.national_id],
            [_("Address").render(), address_text(person.address)],
        ]
        household_title = _("Persons registered in the same household").render()
        household_header = [
            _("Name").render(),
            _("Date of birth").render(),
            _("Relationship").render(),
        ]
        footer = _(
            "Certificate {id}, issued on {moment} (Luxembourg time). It is sealed electronically "
            "by OpenGuichet on behalf of the national register and is valid without a "
            "handwritten signature. Check it at {url} or by scanning the QR code.",
            id=facts.id,
            moment=format_moment(facts.issued_at, language),
            url=facts.verify_url,
        ).render()
        subject = _("Extract of the national register of natural persons").render()
    styles = getSampleStyleSheet()
    story = [
        Paragraph(escape(title), styles["Title"]),
        Paragraph(escape(intro), styles["BodyText"]),
        Spacer(1, 6 * mm),
        _table(identity_rows, [60 * mm, 110 * mm]),
    ]
    if facts.kind is CertificateKind.HOUSEHOLD:
        members = [
            [
                person_name(member),
                date_text(member.birth_date, language),
                role_text(member.role, language),
            ]
            for member in person.household
        ]
        story += [
            Spacer(1, 8 * mm),
            Paragraph(escape(household_title), styles["Heading2"]),
            _table([household_header, *members], [70 * mm, 45 * mm, 55 * mm], header=True),
        ]
    qr = Table(
        [[_qr_code(facts.verify_url), Paragraph(escape(footer), styles["BodyText"])]],
        colWidths=[40 * mm, 130 * mm],
    )
    qr.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [Spacer(1, 12 * mm), qr]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{title} {facts.id}",
        author="OpenGuichet",
        creator="OpenGuichet authentic data",
        subject=subject,
        lang=language.value,
    ).build(story)
    return buffer.getvalue()
