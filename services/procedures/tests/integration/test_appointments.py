"""Appointments (F32) on the real PostgreSQL: slots opened by the administration, held for a draft,
booked at submission, changed and cancelled by the citizen and by the administration, the
iCalendar file. Capacity holds under real concurrent transactions; every refusal changes nothing.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import procedures_pb2 as events_pb
from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_kit.auth import set_caller
from guichet_procedures.api.administration import AdministrationProceduresServicer
from guichet_procedures.api.citizen import ProceduresServicer
from guichet_procedures.definitions.loader import load_catalogue
from guichet_procedures.publishing import publish
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import Appointment

from .conftest import (
    ANNE,
    BOB,
    NO_CONTEXT,
    TEST_FORM,
    Clock,
    Wakes,
    citizen,
    outbox,
    refusal,
    stored_request,
    write_catalogue,
)

pytestmark = pytest.mark.asyncio

REQUIRED = "test-appointment"  # the commune's, an appointment required
OPTIONAL = "test-appointment-optional"
JUSTICE = "test-justice-appointment"  # another administration's


def _text(en: str) -> dict[str, str]:
    return {"fr": f"{en} (fr)", "de": f"{en} (de)", "en": en}


def _place(code: str, name: str) -> dict[str, Any]:
    # Long, with commas, a semicolon and accents: the calendar escapes and folds it.
    address = f"1, rue {name}; bâtiment B, 3e étage, guichet des écritures — L-1234 Luxembourg"
    return {"code": code, "name": _text(name), "address": address}


def _offering(code: str, mode: str, administration: str = "commune") -> dict[str, Any]:
    definition = {**TEST_FORM, "code": code, "administration": administration}
    definition["steps"] = [TEST_FORM["steps"][0]]
    definition["appointment"] = {
        "mode": mode,
        "hold_minutes": 10,
        "places": [_place("town-hall", "Town hall"), _place("annex", "Annex")],
    }
    return definition


@pytest.fixture
async def offered(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> async_sessionmaker[AsyncSession]:
    directory = write_catalogue(
        tmp_path / "appointments",
        [
            _offering(REQUIRED, "required"),
            _offering(OPTIONAL, "optional"),
            _offering(JUSTICE, "required", "justice"),
        ],
    )
    async with sessions.begin() as session:
        await publish(session, load_catalogue(directory))
    return sessions


@dataclass
class Certified:
    """A call whose client certificate mutual TLS verified, named `name`."""

    name: str

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_common_name": [self.name.encode()]}

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return []


COMMUNE: Any = Certified("commune")
JUSTICE_OFFICE: Any = Certified("justice")


@pytest.fixture
def back_office(
    offered: async_sessionmaker[AsyncSession], store: CatalogueStore, wakes: Wakes
) -> AdministrationProceduresServicer:
    return AdministrationProceduresServicer(offered, store, wakes, stream_poll_seconds=0.05)


@pytest.fixture
def as_person() -> Iterator[Callable[[str], None]]:
    yield lambda national_id: set_caller(citizen(national_id))
    set_caller(None)


def _spec(starts_in: timedelta, capacity: int, minutes: int = 30) -> pb.SlotSpec:
    spec = pb.SlotSpec(capacity=capacity)
    start = datetime.now(UTC).replace(microsecond=0) + starts_in
    spec.starts_at.FromDatetime(start)
    spec.ends_at.FromDatetime(start + timedelta(minutes=minutes))
    return spec


async def open_slots(
    back_office: AdministrationProceduresServicer,
    *capacities: int,
    code: str = REQUIRED,
    place: str = "town-hall",
    who: Any = COMMUNE,
) -> list[pb.Slot]:
    reply = await back_office.DefineSlots(
        pb.DefineSlotsRequest(
            procedure_code=code,
            place_code=place,
            slots=[_spec(timedelta(days=1, hours=i), c) for i, c in enumerate(capacities)],
        ),
        who,
    )
    return list(reply.slots)


async def ready_draft(
    procedures: ProceduresServicer, code: str = REQUIRED, language: str = "en"
) -> pb.Request:
    started = await procedures.StartDraft(
        pb.StartDraftRequest(procedure_code=code, language=language), NO_CONTEXT
    )
    saved = await procedures.SaveStep(
        pb.SaveStepRequest(
            request_id=started.request.id,
            step_id="about",
            answers_json=json.dumps({"name": "Anne", "has_children": False}),
        ),
        NO_CONTEXT,
    )
    return saved.request


async def hold(procedures: ProceduresServicer, request_id: str, slot_id: str) -> pb.Request:
    reply = await procedures.HoldSlot(
        pb.HoldSlotRequest(request_id=request_id, slot_id=slot_id, language="en"), NO_CONTEXT
    )
    return reply.request


async def submit(procedures: ProceduresServicer, request_id: str) -> pb.Request:
    reply = await procedures.SubmitRequest(
        pb.SubmitRequestRequest(
            request_id=request_id, idempotency_key=uuid.uuid4().hex, language="en"
        ),
        NO_CONTEXT,
    )
    return reply.request


async def live_on(sessions: async_sessionmaker[AsyncSession], slot_id: str) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(Appointment.state, func.count())
            .where(Appointment.slot_id == uuid.UUID(slot_id))
            .group_by(Appointment.state)
        )
        return {state: int(count) for state, count in rows}


async def test_fifty_parallel_bookings_of_a_slot_for_ten_book_exactly_ten(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    as_person: Callable[[str], None],
) -> None:
    as_person(ANNE)
    (slot,) = await open_slots(back_office, 10)
    drafts = [await ready_draft(procedures) for _ in range(50)]

    async def book(draft_id: str) -> str:
        # Each in its own task and transactions: hold, then submit at once.
        try:
            await hold(procedures, draft_id, slot.id)
            submitted = await submit(procedures, draft_id)
        except Exception as error:
            return getattr(error, "reason", repr(error))
        return submitted.appointment.state

    outcomes = await asyncio.gather(*(book(draft.id) for draft in drafts))
    assert sorted(set(outcomes)) == ["SLOT_FULL", "booked"]
    assert outcomes.count("booked") == 10 and outcomes.count("SLOT_FULL") == 40
    assert await live_on(offered, slot.id) == {"booked": 10}

    listed = await back_office.ListSlots(pb.ListSlotsRequest(procedure_code=REQUIRED), COMMUNE)
    assert [(s.id, s.capacity, s.booked, s.free) for s in listed.slots] == [(slot.id, 10, 10, 0)]
    free = await procedures.ListFreeSlots(
        pb.ListFreeSlotsRequest(request_id=drafts[0].id), NO_CONTEXT
    )
    assert list(free.slots) == []


async def test_fifty_parallel_holds_of_a_slot_for_ten_hold_exactly_ten(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    as_person: Callable[[str], None],
) -> None:
    as_person(BOB)
    (slot,) = await open_slots(back_office, 10)
    drafts = [await ready_draft(procedures) for _ in range(50)]
    outcomes = await asyncio.gather(
        *(hold(procedures, draft.id, slot.id) for draft in drafts), return_exceptions=True
    )
    held = [o for o in outcomes if isinstance(o, pb.Request)]
    refused = [getattr(o, "reason", repr(o)) for o in outcomes if not isinstance(o, pb.Request)]
    assert len(held) == 10 and refused == ["SLOT_FULL"] * 40
    assert all(r.appointment.state == "held" and r.appointment.slot.id == slot.id for r in held)
    assert await live_on(offered, slot.id) == {"held": 10}


async def test_a_required_appointment_without_a_hold_is_refused_at_submission(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    as_person: Callable[[str], None],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    as_person(ANNE)
    await open_slots(back_office, 2)
    draft = await ready_draft(procedures)
    before, rows = await stored_request(offered, draft.id), await counts()
    refused = await refusal(submit(procedures, draft.id))
    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "APPOINTMENT_REQUIRED",
    )
    assert await stored_request(offered, draft.id) == before and await counts() == rows

    # An optional appointment: submitted without one.
    optional = await ready_draft(procedures, OPTIONAL)
    submitted = await submit(procedures, optional.id)
    assert submitted.state == pb.REQUEST_STATE_SUBMITTED and not submitted.HasField("appointment")


async def test_an_expired_hold_is_refused_at_submission_and_its_place_goes_to_another(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    as_person: Callable[[str], None],
    clock: Clock,
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    (slot,) = await open_slots(back_office, 1)
    as_person(ANNE)
    anne = await ready_draft(procedures)
    held = await hold(procedures, anne.id, slot.id)
    assert held.appointment.state == "held"
    assert held.appointment.held_until.ToDatetime(tzinfo=UTC) == clock() + timedelta(minutes=10)

    as_person(BOB)
    bob = await ready_draft(procedures)
    assert (await refusal(hold(procedures, bob.id, slot.id))).reason == "SLOT_FULL"

    clock.advance(minutes=10, seconds=1)  # Anne's hold lapsed: the place is free again
    taken = await hold(procedures, bob.id, slot.id)
    assert taken.appointment.state == "held"

    as_person(ANNE)
    before, rows = await stored_request(offered, anne.id), await counts()
    refused = await refusal(submit(procedures, anne.id))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_EXPIRED")
    assert await stored_request(offered, anne.id) == before and await counts() == rows
    assert (await refusal(hold(procedures, anne.id, slot.id))).reason == "SLOT_FULL"

    as_person(BOB)
    booked = await submit(procedures, bob.id)
    assert booked.appointment.state == "booked" and not booked.appointment.HasField("held_until")
    assert await live_on(offered, slot.id) == {"held": 1, "booked": 1}  # Anne's lapsed hold


async def test_a_new_hold_replaces_the_previous_and_a_full_slot_is_refused(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    as_person: Callable[[str], None],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    first, second = await open_slots(back_office, 1, 1)
    (justice_slot,) = await open_slots(back_office, 5, code=JUSTICE, who=JUSTICE_OFFICE)
    as_person(ANNE)
    anne = await ready_draft(procedures)
    await hold(procedures, anne.id, first.id)
    moved = await hold(procedures, anne.id, second.id)
    assert moved.appointment.slot.id == second.id
    assert moved.appointment.slot.place.name == "Town hall"
    free = await procedures.ListFreeSlots(
        pb.ListFreeSlotsRequest(request_id=anne.id, language="de"), NO_CONTEXT
    )
    assert [(s.id, s.free, s.place.name) for s in free.slots] == [(first.id, 1, "Town hall (de)")]

    as_person(BOB)
    bob = await ready_draft(procedures)
    before, rows = await stored_request(offered, bob.id), await counts()
    assert (await refusal(hold(procedures, bob.id, second.id))).reason == "SLOT_FULL"
    assert await stored_request(offered, bob.id) == before and await counts() == rows

    # Bad input: a malformed id, a slot that does not exist, another procedure's slot.
    for slot_id, reason in (
        ("not-an-id", "INVALID_SLOT_ID"),
        (str(uuid.uuid4()), "SLOT_NOT_FOUND"),
        (justice_slot.id, "SLOT_NOT_FOUND"),
    ):
        assert (await refusal(hold(procedures, bob.id, slot_id))).reason == reason
    unknown_place = await refusal(
        procedures.ListFreeSlots(
            pb.ListFreeSlotsRequest(request_id=bob.id, place_code="moon"), NO_CONTEXT
        )
    )
    assert (unknown_place.reason, unknown_place.fields) == ("UNKNOWN_PLACE", ("place_code",))
    assert await stored_request(offered, bob.id) == before and await counts() == rows


async def test_the_citizen_changes_and_cancels_a_booking_after_submission(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    as_person: Callable[[str], None],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    first, second, full = await open_slots(back_office, 2, 2, 1)
    as_person(BOB)
    bob = await ready_draft(procedures)
    await hold(procedures, bob.id, full.id)
    as_person(ANNE)
    anne = await ready_draft(procedures)
    await hold(procedures, anne.id, first.id)
    submitted = await submit(procedures, anne.id)
    assert (submitted.appointment.state, submitted.appointment.slot.id) == ("booked", first.id)

    before, rows = await stored_request(offered, anne.id), await counts()
    refused = await refusal(
        procedures.ChangeAppointment(
            pb.ChangeAppointmentRequest(request_id=anne.id, slot_id=full.id), NO_CONTEXT
        )
    )
    assert refused.reason == "SLOT_FULL"
    assert await stored_request(offered, anne.id) == before and await counts() == rows

    changed = (
        await procedures.ChangeAppointment(
            pb.ChangeAppointmentRequest(request_id=anne.id, slot_id=second.id), NO_CONTEXT
        )
    ).request
    assert (changed.appointment.state, changed.appointment.slot.id) == ("booked", second.id)
    assert [h.kind for h in changed.history] == ["submitted", "appointment_changed"]
    assert changed.history[-1].actor == "applicant"
    assert changed.history[-1].text.startswith("Town hall, ")
    assert await live_on(offered, first.id) == {}

    cancelled = (
        await procedures.CancelAppointment(
            pb.CancelAppointmentRequest(request_id=anne.id), NO_CONTEXT
        )
    ).request
    assert cancelled.appointment.state == "cancelled"
    assert cancelled.history[-1].kind == "appointment_cancelled"
    assert cancelled.state == pb.REQUEST_STATE_SUBMITTED
    again = await refusal(
        procedures.CancelAppointment(pb.CancelAppointmentRequest(request_id=anne.id), NO_CONTEXT)
    )
    assert again.reason == "NO_APPOINTMENT"
    no_calendar = await refusal(
        procedures.GetAppointmentCalendar(
            pb.GetAppointmentCalendarRequest(request_id=anne.id), NO_CONTEXT
        )
    )
    assert no_calendar.reason == "NO_APPOINTMENT"

    events = [(s, p) for s, p in await outbox(offered) if s.startswith("procedures.appointment")]
    assert [s for s, _ in events] == ["procedures.appointment.changed.v1"] * 2
    moved, gone = (events_pb.AppointmentChanged.FromString(p) for _, p in events)
    assert (moved.state, moved.actor, moved.place_code) == ("booked", "applicant", "town-hall")
    assert moved.starts_at.ToDatetime(tzinfo=UTC) == second.starts_at.ToDatetime(tzinfo=UTC)
    assert (gone.state, gone.applicant.owner) == ("cancelled", f"person:{ANNE}")


async def test_another_persons_request_is_not_found(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    as_person: Callable[[str], None],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    first, second = await open_slots(back_office, 3, 3)
    as_person(ANNE)
    anne = await ready_draft(procedures)
    await hold(procedures, anne.id, first.id)
    await submit(procedures, anne.id)
    before, rows = await stored_request(offered, anne.id), await counts()

    as_person(BOB)
    calls = [
        procedures.ListFreeSlots(pb.ListFreeSlotsRequest(request_id=anne.id), NO_CONTEXT),
        procedures.HoldSlot(pb.HoldSlotRequest(request_id=anne.id, slot_id=second.id), NO_CONTEXT),
        procedures.ChangeAppointment(
            pb.ChangeAppointmentRequest(request_id=anne.id, slot_id=second.id), NO_CONTEXT
        ),
        procedures.CancelAppointment(pb.CancelAppointmentRequest(request_id=anne.id), NO_CONTEXT),
        procedures.GetAppointmentCalendar(
            pb.GetAppointmentCalendarRequest(request_id=anne.id), NO_CONTEXT
        ),
    ]
    for call in calls:
        refused = await refusal(call)
        assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")
    assert await stored_request(offered, anne.id) == before and await counts() == rows


def _unfolded(ics: bytes) -> dict[str, str]:
    text = ics.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.replace("\r\n ", "").split("\r\n")[:-1]
    return dict(line.split(":", 1) for line in lines if not line.startswith(("BEGIN", "END")))


async def test_the_calendar_file_reads_back_with_the_booking(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    as_person: Callable[[str], None],
) -> None:
    (slot,) = await open_slots(back_office, 4, place="annex")
    as_person(ANNE)
    draft = await ready_draft(procedures, language="de")
    await hold(procedures, draft.id, slot.id)
    submitted = await submit(procedures, draft.id)
    reply = await procedures.GetAppointmentCalendar(
        pb.GetAppointmentCalendarRequest(request_id=draft.id), NO_CONTEXT
    )
    assert reply.filename == f"appointment-{submitted.reference}.ics"
    physical = reply.ics.split(b"\r\n")
    assert all(len(line) <= 75 for line in physical)
    assert any(line.startswith(b" ") for line in physical)  # the long LOCATION is folded
    fields = _unfolded(reply.ics)
    assert fields["VERSION"] == "2.0" and fields["PRODID"]
    assert fields["UID"].startswith(f"{draft.id}@")
    assert fields["DTSTAMP"].endswith("Z")
    start = slot.starts_at.ToDatetime(tzinfo=UTC)
    assert fields["DTSTART"] == start.strftime("%Y%m%dT%H%M%SZ")
    assert fields["DTEND"] == (start + timedelta(minutes=30)).strftime("%Y%m%dT%H%M%SZ")
    # In the request's language (German), with TEXT escaping (RFC 5545 3.3.11).
    assert fields["SUMMARY"] == f"Testmeldung ({submitted.reference})"
    assert fields["LOCATION"] == (
        "Annex (de)\\, 1\\, rue Annex\\; bâtiment B\\, 3e étage\\, guichet des écritures — "
        "L-1234 Luxembourg"
    )
    assert fields["STATUS"] == "CONFIRMED"


async def test_the_administration_opens_slots_only_for_its_procedures_and_places(
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    rows = await counts()

    async def refused_define(who: Any = COMMUNE, **fields: Any) -> Any:
        request = pb.DefineSlotsRequest(procedure_code=REQUIRED, place_code="town-hall")
        for key, value in fields.items():
            if key == "slots":
                request.slots.extend(value)
            else:
                setattr(request, key, value)
        return await refusal(back_office.DefineSlots(request, who))

    other = await refused_define(JUSTICE_OFFICE, slots=[_spec(timedelta(days=1), 5)])
    assert (other.code, other.reason) == (grpc.StatusCode.NOT_FOUND, "PROCEDURE_NOT_FOUND")
    none = await refused_define(procedure_code="test-form", slots=[_spec(timedelta(days=1), 5)])
    assert none.reason == "APPOINTMENT_NOT_OFFERED"

    past = _spec(-timedelta(hours=1), 5)
    backwards = _spec(timedelta(days=1), 5, minutes=-30)
    empty = _spec(timedelta(days=2), 0)
    huge = _spec(timedelta(days=3), 1001)
    bad = await refused_define(slots=[_spec(timedelta(days=1), 5), past, backwards, empty, huge])
    assert (bad.code, bad.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_SLOTS")
    assert bad.fields == (
        "slots[1].starts_at",
        "slots[2].ends_at",
        "slots[3].capacity",
        "slots[4].capacity",
    )
    unknown = await refused_define(place_code="moon", slots=[_spec(timedelta(days=1), 5)])
    assert (unknown.reason, unknown.fields) == ("INVALID_SLOTS", ("place_code",))
    nothing = await refused_define()
    assert nothing.fields == ("slots",)
    unset = await refused_define(slots=[pb.SlotSpec(capacity=3)])
    assert unset.fields == ("slots[0].starts_at", "slots[0].ends_at")
    assert await counts() == rows

    listed = await refusal(
        back_office.ListSlots(pb.ListSlotsRequest(procedure_code=REQUIRED), JUSTICE_OFFICE)
    )
    assert (listed.code, listed.reason) == (grpc.StatusCode.NOT_FOUND, "PROCEDURE_NOT_FOUND")

    opened = await open_slots(back_office, 5, 7)
    assert [(s.capacity, s.free, s.place.code) for s in opened] == [
        (5, 5, "town-hall"),
        (7, 7, "town-hall"),
    ]
    assert (await counts())["appointment_slots"] == 2


async def test_the_administration_moves_and_cancels_a_booking_with_a_reason(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    offered: async_sessionmaker[AsyncSession],
    as_person: Callable[[str], None],
    counts: Callable[[], Awaitable[dict[str, int]]],
) -> None:
    first, second = await open_slots(back_office, 2, 2)
    (justice_slot,) = await open_slots(back_office, 2, code=JUSTICE, who=JUSTICE_OFFICE)
    as_person(ANNE)
    draft = await ready_draft(procedures)
    await hold(procedures, draft.id, first.id)
    reference = (await submit(procedures, draft.id)).reference

    incoming = await back_office.GetIncomingRequest(
        pb.GetIncomingRequestRequest(reference=reference), COMMUNE
    )
    assert incoming.request.appointment.slot.id == first.id

    rows = await counts()
    for who, slot_id, reason, expected in (
        (JUSTICE_OFFICE, second.id, "Closed", "REQUEST_NOT_FOUND"),
        (COMMUNE, justice_slot.id, "Closed", "SLOT_NOT_FOUND"),
        (COMMUNE, second.id, "", "INVALID_BOOKING_CHANGE"),
        (COMMUNE, "nope", "Closed", "INVALID_SLOT_ID"),
    ):
        refused = await refusal(
            back_office.MoveBooking(
                pb.MoveBookingRequest(reference=reference, slot_id=slot_id, reason=reason), who
            )
        )
        assert refused.reason == expected
    assert await counts() == rows

    moved = await back_office.MoveBooking(
        pb.MoveBookingRequest(reference=reference, slot_id=second.id, reason="Counter closed"),
        COMMUNE,
    )
    appointment = moved.request.appointment
    assert (appointment.slot.id, appointment.state, appointment.reason) == (
        second.id,
        "booked",
        "Counter closed",
    )
    assert moved.request.history[-1].kind == "appointment_changed"
    assert moved.request.history[-1].actor == "commune"

    cancelled = await back_office.CancelBooking(
        pb.CancelBookingRequest(reference=reference, reason="Strike"), COMMUNE
    )
    assert (cancelled.request.appointment.state, cancelled.request.appointment.reason) == (
        "cancelled",
        "Strike",
    )
    seen = await procedures.GetRequest(pb.GetRequestRequest(request_id=draft.id), NO_CONTEXT)
    assert seen.request.appointment.state == "cancelled"
    assert seen.request.appointment.reason == "Strike"
    assert [h.kind for h in seen.request.history][-2:] == [
        "appointment_changed",
        "appointment_cancelled",
    ]
    events = [
        events_pb.AppointmentChanged.FromString(p)
        for s, p in await outbox(offered)
        if s == "procedures.appointment.changed.v1"
    ]
    assert [(e.state, e.actor, e.reason) for e in events] == [
        ("booked", "commune", "Counter closed"),
        ("cancelled", "commune", "Strike"),
    ]
    again = await refusal(
        back_office.CancelBooking(pb.CancelBookingRequest(reference=reference, reason="x"), COMMUNE)
    )
    assert again.reason == "NO_APPOINTMENT"


async def test_the_catalogue_says_whether_a_procedure_takes_appointments(
    procedures: ProceduresServicer, offered: async_sessionmaker[AsyncSession]
) -> None:
    found = await procedures.SearchCatalogue(
        pb.SearchCatalogueRequest(language="en", page_size=50), NO_CONTEXT
    )
    modes = {summary.code: summary.appointment for summary in found.procedures}
    assert (modes[REQUIRED], modes[OPTIONAL], modes["test-form"]) == (
        "required",
        "optional",
        "none",
    )
    form = await procedures.GetProcedure(pb.GetProcedureRequest(code=OPTIONAL), NO_CONTEXT)
    assert form.form.procedure.appointment == "optional"


def proof_text(pdf: bytes) -> str:
    return " ".join(
        " ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


async def test_the_proof_and_the_export_name_the_booked_appointment(
    procedures: ProceduresServicer,
    back_office: AdministrationProceduresServicer,
    as_person: Callable[[str], None],
) -> None:
    (slot,) = await open_slots(back_office, 4, code=OPTIONAL, place="annex")
    as_person(ANNE)
    draft = await ready_draft(procedures, OPTIONAL)
    await hold(procedures, draft.id, slot.id)
    booked = await submit(procedures, draft.id)
    without = await ready_draft(procedures, OPTIONAL)
    plain = await submit(procedures, without.id)

    # The proof prints the place and the time in Luxembourg time; none without a booking.
    start = slot.starts_at.ToDatetime(tzinfo=UTC)
    local = start.astimezone(ZoneInfo("Europe/Luxembourg"))
    proof = await procedures.GetProof(pb.GetProofRequest(request_id=booked.id), NO_CONTEXT)
    text = proof_text(proof.pdf)
    assert "Appointment Annex, " in text, text
    assert local.strftime("%-I:%M") in text and str(local.year) in text, text
    assert "(Luxembourg time)" in text
    bare = await procedures.GetProof(pb.GetProofRequest(request_id=plain.id), NO_CONTEXT)
    assert "Appointment" not in proof_text(bare.pdf)

    # The export gives each request's appointment: booked, then cancelled by the citizen.
    async def exported() -> dict[str, Any]:
        reply = await procedures.ExportRequests(pb.ExportRequestsRequest(), NO_CONTEXT)
        return {r["id"]: r for r in json.loads(reply.document)["requests"]}

    requests = await exported()
    assert requests[booked.id]["appointment"] == {
        "state": "booked",
        "place_code": "annex",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=30)).isoformat(),
        "held_until": None,
        "reason": "",
    }
    assert requests[plain.id]["appointment"] is None
    await procedures.CancelAppointment(
        pb.CancelAppointmentRequest(request_id=booked.id, language="en"), NO_CONTEXT
    )
    assert (await exported())[booked.id]["appointment"]["state"] == "cancelled"
    # Someone else's export holds none of it.
    as_person(BOB)
    assert await exported() == {}
