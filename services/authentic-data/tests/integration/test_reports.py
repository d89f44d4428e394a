"""F57: a person reports a wrong value; the report goes to the source as an event; the synthetic
source's adapter acknowledges it and answers (corrects or rejects with a reason); the person sees
where it stands."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import grpc
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet.events.v1 import authentic_data_pb2 as events_pb2
from guichet_authentic_data.api.citizen import MyDataServicer
from guichet_authentic_data.registers import desk
from guichet_authentic_data.reports import events
from guichet_authentic_data.reports.models import DataReport
from guichet_kit.db import transaction
from guichet_kit.events import EventConsumer, ensure_stream
from guichet_kit.i18n import Language, set_language
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until
from guichet_testkit.streams import purge_streams

from .conftest import ANNE, NO_CONTEXT, Wakes, a_citizen, outbox, refusal


def report(
    field: str, proposed: str = "", comment: str = "My name is written wrongly."
) -> pb.ReportWrongDataRequest:
    return pb.ReportWrongDataRequest(field=field, comment=comment, proposed_value=proposed)


async def _filed(sessions: async_sessionmaker[AsyncSession]) -> list[events_pb2.DataReportFiled]:
    return [
        events_pb2.DataReportFiled.FromString(event.payload)
        for event in await outbox(sessions)
        if event.subject == events.REPORT_FILED
    ]


async def _take_filed(sessions: async_sessionmaker[AsyncSession]) -> None:
    """What the source's consumer does with each filed report, one transaction each."""
    for event in await _filed(sessions):
        async with transaction(sessions) as session:
            await desk.on_report_filed(session, event)


async def _desk_round(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with transaction(sessions) as session:
        return await desk.answer_received(session)


async def _statuses(my_data: MyDataServicer) -> list[tuple[str, int, str]]:
    reply = await my_data.ListMyDataReports(pb.ListMyDataReportsRequest(), NO_CONTEXT)
    return [(r.field, r.status, r.resolution) for r in reply.reports]


async def test_a_report_goes_to_the_source_which_acknowledges_and_corrects_it(
    my_data: MyDataServicer,
    family: None,
    signed_in,
    sessions: async_sessionmaker[AsyncSession],
    wakes: Wakes,
) -> None:
    signed_in(a_citizen(ANNE))
    set_language(Language.EN)

    filed = await my_data.ReportWrongData(report("person.surname", "Müller"), NO_CONTEXT)

    assert filed.report.status == pb.REPORT_STATUS_SENT
    assert filed.report.status_label == "Sent to the source"
    assert filed.report.source.code == "national-register"
    assert wakes.count == 1  # the relay is woken for the event
    [event] = await _filed(sessions)
    assert (event.report_id, event.subject, event.field, event.proposed_value) == (
        filed.report.id,
        f"person:{ANNE}",
        "person.surname",
        "Müller",
    )

    await _take_filed(sessions)
    assert await _statuses(my_data) == [("person.surname", pb.REPORT_STATUS_RECEIVED, "")]

    assert await _desk_round(sessions) == 1
    assert await _statuses(my_data) == [
        (
            "person.surname",
            pb.REPORT_STATUS_CORRECTED,
            "The source corrected its value as you proposed.",
        )
    ]
    entry = await my_data.GetMyRegisterEntry(pb.GetMyRegisterEntryRequest(), NO_CONTEXT)
    assert {f.name: f.text for f in entry.fields}["person.surname"] == "Müller"
    answered = [
        events_pb2.DataReportAnswered.FromString(e.payload).status
        for e in await outbox(sessions)
        if e.subject == events.REPORT_ANSWERED
    ]
    assert answered == ["received", "corrected"]


@pytest.mark.parametrize(
    ("field", "proposed", "resolution"),
    [
        ("person.birth_date", "1980-01-02", "NEEDS_DOCUMENTS"),
        ("person.address", "3, rue Haute, L-1717 Luxembourg", "VALUE_CONFIRMED"),
        ("person.surname", "", "VALUE_CONFIRMED"),
    ],
)
async def test_the_synthetic_source_rejects_with_a_reason_by_its_fixed_rule(
    my_data: MyDataServicer,
    family: None,
    signed_in,
    sessions: async_sessionmaker[AsyncSession],
    field: str,
    proposed: str,
    resolution: str,
) -> None:
    signed_in(a_citizen(ANNE))
    await my_data.ReportWrongData(report(field, proposed), NO_CONTEXT)
    await _take_filed(sessions)
    await _desk_round(sessions)

    async with sessions() as session:
        stored = await session.scalar(select(DataReport))
    assert stored is not None
    assert (stored.status, stored.resolution_code) == ("rejected", resolution)


async def test_a_report_filed_twice_on_the_stream_is_acknowledged_once(
    my_data: MyDataServicer,
    family: None,
    signed_in,
    sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
) -> None:
    """The real consumer, on a stream of this worker's own (not the shared one)."""
    signed_in(a_citizen(ANNE))
    await my_data.ReportWrongData(report("person.given_names", "Anna"), NO_CONTEXT)
    [event] = await _filed(sessions)
    stream = f"AUTHENTICDATATEST_{worker_name().upper()}"
    subscription = dataclasses.replace(
        desk.report_subscription(),
        stream=stream,
        durable=f"adtest-desk-{uuid.uuid4().hex[:8]}",
        subject=f"adtest{worker_name()}.report.filed.v1",
    )
    await ensure_stream(jetstream, stream, [subscription.subject])
    await purge_streams(jetstream, [stream])
    stop = asyncio.Event()
    consumer = asyncio.create_task(EventConsumer(jetstream, sessions, subscription).run(stop))
    try:
        for _ in range(2):
            await jetstream.publish(subscription.subject, event.SerializeToString())

        async def both_handled() -> bool:
            info = await jetstream.consumer_info(stream, subscription.durable)
            return info.num_pending == 0 and info.num_ack_pending == 0

        await wait_until(both_handled, seconds=15, what="the filed report consumed")
    finally:
        stop.set()
        await consumer
        await jetstream.delete_stream(stream)

    answered = [e for e in await outbox(sessions) if e.subject == events.REPORT_ANSWERED]
    assert len(answered) == 1
    assert [status for _f, status, _r in await _statuses(my_data)] == [pb.REPORT_STATUS_RECEIVED]


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (report("person.shoe_size"), ["field"]),
        (report("company.name"), ["field"]),  # a company's field for a person
        (report("person.surname", comment="wrong"), ["comment"]),
        (report("person.surname", comment="x" * 1001), ["comment"]),
        (report("person.surname", comment="Wrong name \u202e here"), ["comment"]),
        (report("person.surname", proposed="y" * 301), ["proposed_value"]),
        (report("", comment=""), ["field", "comment"]),
    ],
    ids=["unknown-field", "company-field", "short", "long", "bidi", "proposal-long", "empty"],
)
async def test_a_bad_report_is_refused_with_every_wrong_field_and_nothing_is_sent(
    my_data: MyDataServicer,
    family: None,
    signed_in,
    counts,
    request_: pb.ReportWrongDataRequest,
    fields: list[str],
) -> None:
    signed_in(a_citizen(ANNE))
    before = await counts()

    refused = await refusal(my_data.ReportWrongData(request_, NO_CONTEXT))

    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_REPORT",
        fields,
    )
    assert await counts() == before


async def test_open_reports_are_limited_per_entry(
    my_data: MyDataServicer, family: None, signed_in, counts
) -> None:
    signed_in(a_citizen(ANNE))
    for _ in range(10):
        await my_data.ReportWrongData(report("person.birth_place"), NO_CONTEXT)
    before = await counts()

    refused = await refusal(my_data.ReportWrongData(report("person.birth_place"), NO_CONTEXT))

    assert (refused.code, refused.reason) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "TOO_MANY_OPEN_REPORTS",
    )
    assert await counts() == before
