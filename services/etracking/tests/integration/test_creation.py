"""Creating a tracking (anonymous, or in a signed-in citizen's space), listing and looking it up."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_etracking.tracking import events, repository, service
from guichet_etracking.tracking.catalogue import find_paper_form
from guichet_etracking.tracking.contact import notification_choice
from guichet_etracking.tracking.grpc import TrackingServicer
from guichet_etracking.tracking.number import generate_tracking_number, parse_tracking_number
from guichet_kit.db import transaction

from .conftest import NO_CONTEXT, Wakes, a_citizen, creation, outbox, refusal


async def test_an_anonymous_tracking_is_stored_with_its_contact_and_announced(
    sessions: async_sessionmaker[AsyncSession], tracking_servicer: TrackingServicer, wakes: Wakes
) -> None:
    reply = await tracking_servicer.CreateTracking(
        creation("ccss-aff-01", notify_by_email=True, email="anne@example.org"), NO_CONTEXT
    )

    number = parse_tracking_number(reply.tracking.number)
    assert reply.tracking.status == pb.TRACKING_STATUS_AWAITING_PAPER_FORM
    async with sessions() as session:
        stored = await repository.find_by_number(session, number.canonical)
    assert stored.owner is None
    assert (stored.paper_form_code, stored.administration) == ("CCSS-AFF-01", "ccss")
    assert (stored.email, stored.phone, stored.language) == ("anne@example.org", None, "en")
    assert [(c.status, c.changed_by) for c in stored.history] == [
        ("awaiting_paper_form", "applicant")
    ]
    [event] = await outbox(sessions)
    assert event.subject == events.TRACKING_CREATED
    created = events_pb2.TrackingCreated.FromString(event.payload)
    assert (created.number, created.administration) == (number.canonical, "ccss")
    assert created.contact.email == "anne@example.org"
    assert wakes.count == 1


async def test_a_signed_in_citizens_tracking_goes_to_their_space_and_only_theirs(
    tracking_servicer: TrackingServicer, signed_in
) -> None:
    anne, bob = a_citizen("1980010112345"), a_citizen("1975060600123")
    anonymous = await tracking_servicer.CreateTracking(creation(), NO_CONTEXT)
    signed_in(anne)
    annes = await tracking_servicer.CreateTracking(creation("CAE-AF-01"), NO_CONTEXT)

    listed = await tracking_servicer.ListMyTrackings(pb.ListMyTrackingsRequest(), NO_CONTEXT)
    assert [t.number for t in listed.trackings] == [annes.tracking.number]
    signed_in(bob)
    listed = await tracking_servicer.ListMyTrackings(pb.ListMyTrackingsRequest(), NO_CONTEXT)
    assert list(listed.trackings) == []
    # Anyone holding the number follows it, signed in or not.
    for number in (anonymous.tracking.number, annes.tracking.number):
        found = await tracking_servicer.LookupTracking(
            pb.LookupTrackingRequest(number=number), NO_CONTEXT
        )
        assert found.tracking.number == number


async def test_the_owner_is_stored_as_given_and_lists_newest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    choice = notification_choice(False, None, False, None, "fr")
    async with transaction(sessions) as session:
        older = await service.create_tracking(
            session, find_paper_form("ACD-IR-100"), choice, "company:space-1"
        )
    async with transaction(sessions) as session:
        newer = await service.create_tracking(
            session, find_paper_form("SNCA-IMM-01"), choice, "company:space-1"
        )
        await service.create_tracking(session, find_paper_form("ACD-IR-100"), choice, None)
    async with sessions() as session:
        listed = await service.trackings_of(session, "company:space-1")
    assert [t.number for t in listed] == [newer.number, older.number]


async def test_a_bad_request_is_refused_with_every_wrong_field_and_writes_nothing(
    tracking_servicer: TrackingServicer, counts, wakes: Wakes
) -> None:
    before = await counts()
    request = creation("NO-SUCH-FORM", notify_by_email=True, email="not an address")

    refused = await refusal(tracking_servicer.CreateTracking(request, NO_CONTEXT))

    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.reason == "INVALID_TRACKING_REQUEST"
    assert await counts() == before
    assert wakes.count == 0


async def test_an_unknown_number_is_not_found_and_a_malformed_one_is_bad_input(
    tracking_servicer: TrackingServicer, counts
) -> None:
    before = await counts()
    unknown = generate_tracking_number().display
    for call in (
        tracking_servicer.LookupTracking(pb.LookupTrackingRequest(number=unknown), NO_CONTEXT),
        tracking_servicer.GetTrackingSheet(pb.GetTrackingSheetRequest(number=unknown), NO_CONTEXT),
    ):
        refused = await refusal(call)
        assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "TRACKING_NOT_FOUND")

    refused = await refusal(
        tracking_servicer.LookupTracking(pb.LookupTrackingRequest(number="ET-12"), NO_CONTEXT)
    )
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.reason == "INVALID_TRACKING_NUMBER"
    assert await counts() == before
