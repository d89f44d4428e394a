"""Reports of wrong data (F57): the person files one, it goes to the source as an event; the
source's adapter acknowledges it, then corrects the value or rejects the report with a reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_authentic_data.access.service import Subject
from guichet_authentic_data.registers.fields import find_field
from guichet_authentic_data.reports import events
from guichet_authentic_data.reports.models import DataReport
from guichet_authentic_data.reports.status import ReportStatus
from guichet_kit.domain import Exhausted, FieldErrors, InvalidInput
from guichet_kit.i18n import Catalog
from guichet_kit.outbox import add_event
from guichet_kit.values import InvalidValue, parse_human_text

_ = Catalog("guichet_authentic_data")

MIN_COMMENT = 10
MAX_COMMENT = 1000
MAX_PROPOSED = 300
# Open reports per entry: enough for real mistakes, not a channel to flood a source with.
MAX_OPEN_REPORTS = 10


class TooManyOpenReports(Exhausted):
    def __init__(self) -> None:
        super().__init__(
            "TOO_MANY_OPEN_REPORTS",
            _(
                "{limit} reports about this data are still open: wait for the source's answers.",
                limit=MAX_OPEN_REPORTS,
            ),
        )


async def file_report(
    session: AsyncSession,
    subject: Subject,
    filed_by: str,
    field: str,
    comment: str,
    proposed_value: str,
) -> DataReport:
    errors = FieldErrors()
    spec = find_field(field)
    if spec is None or spec.subject_kind != subject.kind:
        errors.add("field", "unknown", _("Choose one of the fields shown with your data."))
    text = ""
    try:
        text = parse_human_text(comment, max_length=MAX_COMMENT, multiline=True)
        if len(text) < MIN_COMMENT:
            raise InvalidValue(
                "too_short", _("Write at least {limit} characters.", limit=MIN_COMMENT)
            )
    except InvalidValue as error:
        errors.add("comment", error.reason, error.message)
    proposed = ""
    try:
        proposed = parse_human_text(proposed_value, max_length=MAX_PROPOSED, required=False)
    except InvalidValue as error:
        errors.add("proposed_value", error.reason, error.message)
    if errors:
        raise InvalidInput("INVALID_REPORT", _("The report has errors."), errors.errors)
    assert spec is not None
    open_reports = await session.scalar(
        select(func.count())
        .select_from(DataReport)
        .where(
            DataReport.subject == str(subject),
            DataReport.status.in_([ReportStatus.SENT.value, ReportStatus.RECEIVED.value]),
        )
    )
    if (open_reports or 0) >= MAX_OPEN_REPORTS:
        raise TooManyOpenReports()
    now = datetime.now(UTC)
    report = DataReport(
        id=uuid.uuid4(),
        subject=str(subject),
        field=spec.name,
        source=spec.source_code.value,
        comment=text,
        proposed_value=proposed,
        status=ReportStatus.SENT.value,
        filed_by=filed_by,
        filed_at=now,
        updated_at=now,
    )
    session.add(report)
    await session.flush()
    add_event(session, events.REPORT_FILED, events.report_filed(report))
    return report


async def reports_of(session: AsyncSession, subject: Subject) -> list[DataReport]:
    rows = await session.scalars(
        select(DataReport)
        .where(DataReport.subject == str(subject))
        .order_by(DataReport.filed_at.desc(), DataReport.id)
    )
    return list(rows)


def _move(
    session: AsyncSession, report: DataReport, status: ReportStatus, code: str | None = None
) -> None:
    report.status = status.value
    report.resolution_code = code
    report.updated_at = datetime.now(UTC)
    add_event(session, events.REPORT_ANSWERED, events.report_answered(report))


async def acknowledge(session: AsyncSession, report_id: uuid.UUID) -> DataReport | None:
    """The source received the report; None when it is gone (purged with its person)."""
    report = await session.scalar(
        select(DataReport).where(DataReport.id == report_id).with_for_update()
    )
    if report is not None and report.status == ReportStatus.SENT.value:
        _move(session, report, ReportStatus.RECEIVED)
    return report


async def received_reports(session: AsyncSession, limit: int) -> list[DataReport]:
    """Acknowledged and not answered yet, oldest first; locked so two desks never share one."""
    rows = await session.scalars(
        select(DataReport)
        .where(DataReport.status == ReportStatus.RECEIVED.value)
        .order_by(DataReport.filed_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


def answer(session: AsyncSession, report: DataReport, corrected: bool, code: str) -> None:
    _move(session, report, ReportStatus.CORRECTED if corrected else ReportStatus.REJECTED, code)


async def purge_person(session: AsyncSession, national_id: str) -> int:
    """Remove the reports about a deleted person; forget them as the filer of others'."""
    result = await session.execute(
        delete(DataReport).where(DataReport.subject == f"person:{national_id}")
    )
    await session.execute(
        update(DataReport).where(DataReport.filed_by == national_id).values(filed_by=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
