"""An administration's acts: scanning the paper form, moving the status along its life cycle.

A refused act leaves everything as it was: the tracking's status and history, and the outbox.
"""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_etracking.tracking import events, repository
from guichet_etracking.tracking.grpc import AdministrationServicer, TrackingServicer
from guichet_etracking.tracking.models import Tracking
from guichet_etracking.tracking.number import generate_tracking_number, parse_tracking_number

from .conftest import NO_CONTEXT, Wakes, as_administration, creation, outbox, refusal

S = pb.TrackingStatus


async def new_tracking(servicer: TrackingServicer, form: str = "ACD-IR-100") -> str:
    return (await servicer.CreateTracking(creation(form), NO_CONTEXT)).tracking.number


async def stored(sessions: async_sessionmaker[AsyncSession], number: str) -> Tracking:
    async with sessions() as session:
        return await repository.find_by_number(session, parse_tracking_number(number).canonical)


async def move(
    servicer: AdministrationServicer, number: str, status: int, comment: str = "", by: str = "acd"
) -> pb.UpdateTrackingStatusResponse:
    request = pb.UpdateTrackingStatusRequest(number=number, status=status, comment=comment)
    return await servicer.UpdateTrackingStatus(request, as_administration(by))


async def test_the_first_scan_receives_the_form_and_a_second_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
    tracking_servicer: TrackingServicer,
    administration_servicer: AdministrationServicer,
    counts,
    wakes: Wakes,
) -> None:
    number = await new_tracking(tracking_servicer)
    scan = pb.ScanTrackingRequest(number=number)

    first = await administration_servicer.ScanTracking(scan, as_administration("acd"))
    assert not first.already_received
    assert first.tracking.status == S.TRACKING_STATUS_RECEIVED
    tracking = await stored(sessions, number)
    assert [(c.status, c.changed_by) for c in tracking.history] == [
        ("awaiting_paper_form", "applicant"),
        ("received", "acd"),
    ]
    _created, received = await outbox(sessions)
    assert received.subject == events.TRACKING_STATUS_CHANGED
    change = events_pb2.TrackingStatusChanged.FromString(received.payload)
    assert (change.previous_status, change.status) == (
        S.TRACKING_STATUS_AWAITING_PAPER_FORM,
        S.TRACKING_STATUS_RECEIVED,
    )
    assert wakes.count == 2  # the creation, the scan

    before = await counts()
    again = await administration_servicer.ScanTracking(scan, as_administration("acd"))
    assert again.already_received
    assert again.tracking.status == S.TRACKING_STATUS_RECEIVED
    assert len(again.tracking.history) == 2
    assert await counts() == before
    assert wakes.count == 2  # nothing written, nothing to relay


async def test_a_scan_is_refused_outside_competence_for_an_unknown_number_and_without_certificate(
    sessions: async_sessionmaker[AsyncSession],
    tracking_servicer: TrackingServicer,
    administration_servicer: AdministrationServicer,
    counts,
) -> None:
    number = await new_tracking(tracking_servicer, "ACD-IR-100")
    before = await counts()
    unknown = generate_tracking_number().display

    for who, scanned, expected in (
        ("ccss", number, (grpc.StatusCode.PERMISSION_DENIED, "NOT_COMPETENT")),
        ("acd", unknown, (grpc.StatusCode.NOT_FOUND, "TRACKING_NOT_FOUND")),
        (None, number, (grpc.StatusCode.UNAUTHENTICATED, "CLIENT_CERTIFICATE_REQUIRED")),
    ):
        refused = await refusal(
            administration_servicer.ScanTracking(
                pb.ScanTrackingRequest(number=scanned), as_administration(who)
            )
        )
        assert (refused.code, refused.reason) == expected, who

    assert await counts() == before
    assert (await stored(sessions, number)).status == "awaiting_paper_form"


async def test_allowed_moves_are_recorded_with_their_comment_and_announced(
    sessions: async_sessionmaker[AsyncSession],
    tracking_servicer: TrackingServicer,
    administration_servicer: AdministrationServicer,
) -> None:
    number = await new_tracking(tracking_servicer)
    path = [
        S.TRACKING_STATUS_RECEIVED,
        S.TRACKING_STATUS_IN_PROCESSING,
        S.TRACKING_STATUS_AWAITING_DOCUMENTS,
        S.TRACKING_STATUS_IN_PROCESSING,
        S.TRACKING_STATUS_COMPLETED,
    ]
    for status in path:
        reply = await move(administration_servicer, number, status, comment="  see letter  ")
        assert reply.tracking.status == status

    tracking = await stored(sessions, number)
    assert tracking.status == "completed"
    assert [c.comment for c in tracking.history] == ["", *["see letter"] * len(path)]
    changes = [
        events_pb2.TrackingStatusChanged.FromString(event.payload)
        for event in await outbox(sessions)
        if event.subject == events.TRACKING_STATUS_CHANGED
    ]
    assert [(c.previous_status, c.status) for c in changes] == list(
        zip([S.TRACKING_STATUS_AWAITING_PAPER_FORM, *path[:-1]], path, strict=True)
    )


@pytest.mark.parametrize(
    ("path", "refused_move"),
    [
        ([], S.TRACKING_STATUS_COMPLETED),  # not received yet
        ([], S.TRACKING_STATUS_AWAITING_PAPER_FORM),  # to where it already is
        ([S.TRACKING_STATUS_RECEIVED, S.TRACKING_STATUS_REJECTED], S.TRACKING_STATUS_IN_PROCESSING),
        ([S.TRACKING_STATUS_WITHDRAWN], S.TRACKING_STATUS_RECEIVED),  # withdrawn is final
    ],
)
async def test_a_move_the_life_cycle_forbids_is_refused_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
    tracking_servicer: TrackingServicer,
    administration_servicer: AdministrationServicer,
    counts,
    wakes: Wakes,
    path: list[int],
    refused_move: int,
) -> None:
    number = await new_tracking(tracking_servicer)
    for status in path:
        await move(administration_servicer, number, status)
    status_before = (await stored(sessions, number)).status
    before, woken = await counts(), wakes.count

    refused = await refusal(move(administration_servicer, number, refused_move))

    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.reason == "TRANSITION_NOT_ALLOWED"
    assert (await stored(sessions, number)).status == status_before
    assert await counts() == before
    assert wakes.count == woken


async def test_scanning_a_withdrawn_form_is_refused_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
    tracking_servicer: TrackingServicer,
    administration_servicer: AdministrationServicer,
    counts,
) -> None:
    number = await new_tracking(tracking_servicer)
    await move(administration_servicer, number, S.TRACKING_STATUS_WITHDRAWN)
    before = await counts()

    refused = await refusal(
        administration_servicer.ScanTracking(
            pb.ScanTrackingRequest(number=number), as_administration("acd")
        )
    )

    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "TRANSITION_NOT_ALLOWED",
    )
    assert (await stored(sessions, number)).status == "withdrawn"
    assert await counts() == before


async def test_a_move_by_another_administration_or_on_an_unknown_number_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
    tracking_servicer: TrackingServicer,
    administration_servicer: AdministrationServicer,
    counts,
) -> None:
    number = await new_tracking(tracking_servicer, "ACD-IR-100")
    before = await counts()

    # The move itself would be allowed: competence is checked first.
    refused = await refusal(
        move(administration_servicer, number, S.TRACKING_STATUS_RECEIVED, by="ccss")
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_COMPETENT")
    unknown = generate_tracking_number().display
    refused = await refusal(move(administration_servicer, unknown, S.TRACKING_STATUS_RECEIVED))
    assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "TRACKING_NOT_FOUND")

    assert (await stored(sessions, number)).status == "awaiting_paper_form"
    assert await counts() == before


async def test_a_bad_status_update_is_refused_field_by_field(
    tracking_servicer: TrackingServicer, administration_servicer: AdministrationServicer, counts
) -> None:
    number = await new_tracking(tracking_servicer)
    before = await counts()
    for status, comment in (
        (S.TRACKING_STATUS_UNSPECIFIED, ""),
        (S.TRACKING_STATUS_RECEIVED, "x" * 501),
    ):
        refused = await refusal(move(administration_servicer, number, status, comment))
        assert (refused.code, refused.reason) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_STATUS_UPDATE",
        )
    assert await counts() == before
