"""The proof of deposit (F27): a PDF in the person's language saying what was submitted, when,
under which reference, with the SHA-256 of the answers, sealed with the platform's seal.

`render_proof` draws it (pure, reproducible bytes), `seal_proof` seals it (PAdES, the kit's
`Sealer`), `verify_proof` says whether a file someone hands in is such a proof, byte for byte as
the platform sealed it, and which request and answers it names. That last part is read from the
document information (`/Keywords`, machine-readable marks) inside the sealed bytes; the service
then compares the reference and the digest with what it stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple
from xml.sax.saxutils import escape

from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from guichet_kit.i18n import Catalog, Language, Text, format_moment, speaking
from guichet_kit.seal import SEAL_PROBLEMS, Sealer, SealProblem, TrustRoot, verify_seal
from guichet_procedures.requests.references import parse_reference

_ = Catalog("guichet_procedures")

PLATFORM_NAME = "OpenGuichet"
_QR_SIZE = 30 * mm
# The marks verification reads back, in /Keywords: fixed words, canonical values, any order.
_MARKS = re.compile(r"(openguichet-[a-z0-9-]+)=(\S+)")
_REFERENCE_MARK = "openguichet-reference"
_DIGEST_MARK = "openguichet-answers-sha256"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def answers_digest(answers: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the answers' canonical JSON (keys sorted at every depth, no spaces,
    UTF-8 as is): anyone holding the same answers gets the same digest."""
    canonical = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ProofAnswer(NamedTuple):
    label: str  # the field's label, in the proof's language
    value: str  # its value as a person reads it (a date in words, "Yes", an address on lines)


class ProofStep(NamedTuple):
    title: str
    answers: Sequence[ProofAnswer | tuple[str, str]]


@dataclass(frozen=True)
class Applicant:
    """Who submitted: a person (name and national id) or a company (its name and number)."""

    name: str
    national_id: str | None = None
    company_name: str | None = None
    company_number: str | None = None


@dataclass(frozen=True)
class Signer:
    """F26: who signed the answers, from their certificate of the national CA."""

    name: str
    national_id: str
    certificate_serial: str  # hexadecimal


@dataclass(frozen=True)
class ProofContent:
    """Everything printed on a proof, already in its language; the caller builds it from the
    request and its definition (steps in order, hidden fields left out)."""

    reference: str  # PR-XXXX-XXXX-C (any form parse_reference reads; printed in display form)
    submitted_at: datetime  # aware; printed in Luxembourg time
    procedure_code: str
    procedure_version: int
    procedure_title: str
    applicant: Applicant
    steps: Sequence[ProofStep | tuple[str, Sequence[tuple[str, str]]]]
    answers_sha256: str
    verify_url: str
    signer: Signer | None = None  # F26: the answers were signed (the digest below)
    # F32: the booked appointment ("place, date and time"), if any.
    appointment: str = ""
    # F24: (field label, its source and when it was read) of each prefilled answer.
    prefilled: Sequence[tuple[str, str]] = ()
    # F25: (question, file name, SHA-256 of the file) of each attached file.
    attachments: Sequence[tuple[str, str, str]] = ()


def render_proof(content: ProofContent, language: Language) -> bytes:
    """An A4 PDF of the proof, unsealed; identical content gives identical bytes."""
    if not _SHA256.fullmatch(content.answers_sha256):
        raise ValueError("answers_sha256 must be 64 lowercase hexadecimal characters")
    reference = parse_reference(content.reference).display
    with speaking(language):
        title = _("Proof of deposit").render()
        intro = _(
            "{platform} received the request below. Keep this proof: it shows what you "
            "submitted and when.",
            platform=PLATFORM_NAME,
        ).render()
        moment = format_moment(content.submitted_at, language)
        facts = [
            (_("Reference").render(), reference),
            (_("Submitted on").render(), _("{moment} (Luxembourg time)", moment=moment).render()),
            (_("Procedure").render(), content.procedure_title),
            (
                _("Procedure code and version").render(),
                _(
                    "{code}, version {version}",
                    code=content.procedure_code,
                    version=content.procedure_version,
                ).render(),
            ),
            *_applicant_rows(content.applicant),
            *_signer_rows(content.signer),
            *_appointment_rows(content.appointment),
        ]
        answers_title = _("Your answers").render()
        no_answers = _("No answers.").render()
        sources_title = _("Prefilled answers and their sources").render()
        files_title = _("Attached files").render()
        files_header = (
            _("Question").render(),
            _("File").render(),
            _("SHA-256 of the file").render(),
        )
        digest_label = _("SHA-256 digest of the answers").render()
        digest_note = _(
            "The digest identifies these answers exactly: the same answers always give the same "
            "digest, and any change gives another."
        ).render()
        how_to_verify = _(
            "This proof is sealed electronically by {platform} and is valid without a handwritten "
            "signature. To check that it is genuine and unchanged, upload this PDF at {url} or "
            "scan the QR code.",
            platform=PLATFORM_NAME,
            url=content.verify_url,
        ).render()

    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    platform = ParagraphStyle("platform", parent=body, fontName="Helvetica-Bold", fontSize=12)
    digest_style = ParagraphStyle("digest", parent=body, fontName="Courier", fontSize=9)
    story: list[Flowable] = [
        Paragraph(escape(PLATFORM_NAME), platform),
        Paragraph(escape(title), styles["Title"]),
        Paragraph(escape(intro), body),
        Spacer(1, 6 * mm),
        _table(facts),
        Spacer(1, 6 * mm),
        Paragraph(escape(answers_title), styles["Heading1"]),
    ]
    steps = [ProofStep(*step) for step in content.steps]
    if not steps:
        story.append(Paragraph(escape(no_answers), body))
    for step in steps:
        story.append(Paragraph(escape(step.title), styles["Heading2"]))
        rows = [tuple(answer) for answer in step.answers]
        story.append(_table(rows) if rows else Paragraph(escape(no_answers), body))
    if content.prefilled:  # F24
        story.append(Paragraph(escape(sources_title), styles["Heading2"]))
        story.append(_table([tuple(row) for row in content.prefilled]))
    if content.attachments:  # F25
        story.append(Paragraph(escape(files_title), styles["Heading2"]))
        story.append(_files_table([files_header, *map(tuple, content.attachments)]))
    verification = Table(
        [[_qr_code(content.verify_url), Paragraph(escape(how_to_verify), body)]],
        colWidths=[35 * mm, 135 * mm],
    )
    verification.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [
        Spacer(1, 8 * mm),
        Paragraph(escape(digest_label), styles["Heading2"]),
        Paragraph(escape(content.answers_sha256), digest_style),
        Paragraph(escape(digest_note), body),
        Spacer(1, 8 * mm),
        verification,
    ]

    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{title} {reference}",
        author=PLATFORM_NAME,
        creator="OpenGuichet procedures",
        subject=f"{title} {reference}",
        keywords=_marks(content, reference),
        lang=language.value,
        invariant=1,  # fixed creation date and document id, so the bytes are reproducible
    ).build(story)
    return buffer.getvalue()


async def seal_proof(sealer: Sealer, pdf: bytes, language: Language = Language.EN) -> bytes:
    """The proof with the platform's seal (PAdES); ~0.3 s of CPU, run in a thread."""
    return await sealer.seal(pdf, reason=_("Proof of deposit").render(language))


ProofProblem = SealProblem | Literal["not_a_proof"]


@dataclass(frozen=True, slots=True)
class ProofCheck:
    """What a handed-in file is. `genuine`: sealed by the platform, byte for byte as sealed, and
    a proof of deposit; only then are `reference` (display form, PR-XXXX-XXXX-C) and `digest`
    (hex SHA-256 of the answers) given, read from the sealed bytes. `unchanged`: the file is as
    its (whoever's) seal left it. `message` says why not, for the person who handed it in."""

    genuine: bool
    unchanged: bool
    reference: str | None
    digest: str | None
    reason: ProofProblem | None

    @property
    def message(self) -> Text | None:
        """Why the file is refused, for the person who handed it in."""
        if self.reason is None:
            return None
        if self.reason == "not_a_proof":
            return _("This PDF was sealed by the platform but is not a proof of deposit.")
        return SEAL_PROBLEMS[self.reason]


async def verify_proof(pdf: bytes, trust_roots: Iterable[TrustRoot]) -> ProofCheck:
    """Check a proof against the platform's CA (`trust_roots`): genuine only if the seal
    validates against it and covers the whole file (one byte changed or anything appended is
    refused), and the sealed document carries a proof's marks."""
    seal = await verify_seal(pdf, trust_roots)
    if not seal.genuine:
        return ProofCheck(
            genuine=False,
            unchanged=seal.unchanged,
            reference=None,
            digest=None,
            reason=seal.problem,
        )
    marks = _read_marks(pdf)
    reference, digest = marks.get(_REFERENCE_MARK), marks.get(_DIGEST_MARK)
    if not reference or not digest or not _SHA256.fullmatch(digest):
        return ProofCheck(
            genuine=False, unchanged=True, reference=None, digest=None, reason="not_a_proof"
        )
    return ProofCheck(genuine=True, unchanged=True, reference=reference, digest=digest, reason=None)


def _marks(content: ProofContent, reference: str) -> str:
    return " ".join(
        (
            "openguichet-proof-of-deposit",
            f"{_REFERENCE_MARK}={reference}",
            f"{_DIGEST_MARK}={content.answers_sha256}",
            f"openguichet-procedure={content.procedure_code}",
            f"openguichet-procedure-version={content.procedure_version}",
        )
    )


def _read_marks(pdf: bytes) -> dict[str, str]:
    # Only called on a file whose seal covers every byte: the marks are the platform's.
    trailer = PdfFileReader(io.BytesIO(pdf), strict=False).trailer_view
    try:
        keywords = str(trailer["/Info"]["/Keywords"])  # indexing dereferences; .get does not
    except KeyError:
        return {}
    return dict(_MARKS.findall(keywords))


def _applicant_rows(applicant: Applicant) -> list[tuple[str, str]]:
    rows = [(_("Applicant").render(), applicant.name)]
    if applicant.national_id:
        rows.append((_("National identification number").render(), applicant.national_id))
    if applicant.company_name:
        company = applicant.company_name
        if applicant.company_number:
            company = f"{company} ({applicant.company_number})"
        rows.append((_("Company").render(), company))
    return rows


def _signer_rows(signer: Signer | None) -> list[tuple[str, str]]:
    if signer is None:
        return []
    return [
        (
            _("Signed by").render(),
            _(
                "{name}, national identification number {national_id}, certificate serial "
                "number {serial}. The applicant signed these answers electronically (their "
                "SHA-256 digest below) with a certificate of the national certification "
                "authority.",
                name=signer.name,
                national_id=signer.national_id,
                serial=signer.certificate_serial,
            ).render(),
        )
    ]


def _cell(text: str, style: ParagraphStyle) -> Paragraph:
    # Multi-line answers (long texts, addresses) keep their lines.
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(rows: Sequence[tuple[str, ...]]) -> Table:
    styles = getSampleStyleSheet()
    label = ParagraphStyle("label", parent=styles["BodyText"], fontName="Helvetica-Bold")
    cells = [[_cell(row[0], label), _cell(row[1], styles["BodyText"])] for row in rows]
    # splitInRow: one very long answer may run over a page instead of failing the layout.
    table = Table(cells, colWidths=[60 * mm, 110 * mm], splitInRow=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
            ]
        )
    )
    return table


def _files_table(rows: Sequence[tuple[str, ...]]) -> Table:
    """Question, file name and the file's SHA-256 (in a fixed-width font, to be compared)."""
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    label = ParagraphStyle("file-label", parent=body, fontName="Helvetica-Bold")
    digest = ParagraphStyle("file-digest", parent=body, fontName="Courier", fontSize=7)
    cells = [
        [_cell(row[0], label), _cell(row[1], body), _cell(row[2], label)]
        if index == 0
        # Two lines of 32 hexadecimal digits: a digest fits the column without being cut.
        else [
            _cell(row[0], label),
            _cell(row[1], body),
            _cell(f"{row[2][:32]}\n{row[2][32:]}", digest),
        ]
        for index, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=[45 * mm, 55 * mm, 70 * mm], splitInRow=1, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
            ]
        )
    )
    return table


def _appointment_rows(appointment: str) -> list[tuple[str, str]]:
    """F32: the booked slot, printed in Luxembourg time like the submission."""
    if not appointment:
        return []
    return [
        (
            _("Appointment").render(),
            _("{appointment} (Luxembourg time)", appointment=appointment).render(),
        )
    ]


def _qr_code(value: str) -> Drawing:
    widget = QrCodeWidget(value, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(
        _QR_SIZE, _QR_SIZE, transform=[_QR_SIZE / (x1 - x0), 0, 0, _QR_SIZE / (y1 - y0), 0, 0]
    )
    drawing.add(widget)
    return drawing
