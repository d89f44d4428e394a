"""The synthetic registers' desk: their side of reports of wrong data (F57).

A real source gets the report through its own channel and answers days later; the synthetic one
plays both steps in the worker. It consumes `authentic-data.report.filed.v1` and acknowledges
each report (status received), then, on its next round, answers it with a fixed rule so tests
and demonstrations know what to expect:

- a value that only supporting documents can change (identity numbers, dates, civil status,
  family links, directors) is rejected with NEEDS_DOCUMENTS;
- a name, place of birth or company name with a proposed value is corrected as proposed: the
  register's row changes and the person sees the new value;
- anything else is rejected with VALUE_CONFIRMED.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import authentic_data_pb2 as events_pb2
from guichet_authentic_data.registers.models import RegisteredCompany, RegisteredPerson
from guichet_authentic_data.reports import events
from guichet_authentic_data.reports import service as reports
from guichet_authentic_data.reports.models import DataReport
from guichet_kit.db import transaction
from guichet_kit.events import EventSubscription, PoisonMessage

log = structlog.get_logger(__name__)

DURABLE = "authentic-data-synthetic-source"
# Fields the synthetic source corrects when the person proposes a value: model and column.
CORRECTABLE: dict[str, tuple[type[RegisteredPerson] | type[RegisteredCompany], str]] = {
    "person.given_names": (RegisteredPerson, "given_names"),
    "person.surname": (RegisteredPerson, "surname"),
    "person.birth_place": (RegisteredPerson, "birth_place"),
    "company.name": (RegisteredCompany, "name"),
}
NEEDS_DOCUMENTS = frozenset(
    {
        "person.national_id",
        "person.birth_date",
        "person.sex",
        "person.nationality",
        "person.marital_status",
        "person.spouse",
        "person.children",
        "person.parents",
        "company.number",
        "company.legal_form",
        "company.directors",
    }
)


async def on_report_filed(session: AsyncSession, event: events_pb2.DataReportFiled) -> None:
    try:
        report_id = uuid.UUID(event.report_id)
    except ValueError as error:
        raise PoisonMessage("a report without a valid id") from error
    report = await reports.acknowledge(session, report_id)
    log.info("authentic_data.report_received", report_id=event.report_id, found=bool(report))


def report_subscription(durable: str = DURABLE) -> EventSubscription[events_pb2.DataReportFiled]:
    return EventSubscription(
        stream=events.STREAM.name,
        durable=durable,
        subject=events.REPORT_FILED,
        event_type=events_pb2.DataReportFiled,
        handler=on_report_filed,
    )


async def _correct(session: AsyncSession, report: DataReport) -> bool:
    """Apply the proposed value to the register; False when the entry is gone."""
    model, column = CORRECTABLE[report.field]
    key = report.subject.partition(":")[2]
    statement = (
        update(RegisteredPerson).where(RegisteredPerson.national_id == key)
        if model is RegisteredPerson
        else update(RegisteredCompany).where(RegisteredCompany.number == key)
    )
    result = await session.execute(statement.values({column: report.proposed_value}))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def answer_received(session: AsyncSession, limit: int = 50) -> int:
    """One round of the desk: answer the reports it acknowledged. Returns how many."""
    pending = await reports.received_reports(session, limit)
    for report in pending:
        if report.field in NEEDS_DOCUMENTS:
            reports.answer(session, report, corrected=False, code="NEEDS_DOCUMENTS")
        elif report.field in CORRECTABLE and report.proposed_value:
            if await _correct(session, report):
                reports.answer(session, report, corrected=True, code="CORRECTED_AS_PROPOSED")
            else:
                reports.answer(session, report, corrected=False, code="NO_SUCH_ENTRY")
        else:
            reports.answer(session, report, corrected=False, code="VALUE_CONFIRMED")
    return len(pending)


async def run_desk(
    sessions: async_sessionmaker[AsyncSession],
    stop: asyncio.Event,
    *,
    interval: float = 2.0,
    events_written: Callable[[], None] = lambda: None,
) -> None:
    """The desk's rounds, until `stop`; an outage is logged and the next round tries again."""
    log.info("authentic_data.desk_started")
    while not stop.is_set():
        try:
            async with transaction(sessions) as session:
                answered = await answer_received(session)
            if answered:
                events_written()  # the relay publishes the answers at once
        except Exception:
            log.exception("authentic_data.desk_round_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    log.info("authentic_data.desk_stopped")
