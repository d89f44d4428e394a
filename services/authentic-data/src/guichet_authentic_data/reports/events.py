"""What the reports publish: filed (to the source) and answered (by the source)."""

from __future__ import annotations

from guichet.events import subjects
from guichet.events.v1 import authentic_data_pb2 as events_pb2
from guichet_authentic_data.reports.models import DataReport

STREAM = subjects.AUTHENTIC_DATA
REPORT_FILED = subjects.DATA_REPORT_FILED
REPORT_ANSWERED = subjects.DATA_REPORT_ANSWERED


def report_filed(report: DataReport) -> events_pb2.DataReportFiled:
    event = events_pb2.DataReportFiled(
        report_id=str(report.id),
        source=report.source,
        subject=report.subject,
        field=report.field,
        comment=report.comment,
        proposed_value=report.proposed_value,
    )
    event.occurred_at.FromDatetime(report.filed_at)
    return event


def report_answered(report: DataReport) -> events_pb2.DataReportAnswered:
    event = events_pb2.DataReportAnswered(
        report_id=str(report.id),
        subject=report.subject,
        field=report.field,
        status=report.status,
        resolution_code=report.resolution_code or "",
    )
    event.occurred_at.FromDatetime(report.updated_at)
    return event
