"""Appointments (F32) on the running processes: the commune opens slots over mutual TLS with its
administration certificate, a citizen holds one through the procedures gRPC API (called as the
gateway calls it, with her token) and submits, which books it; the commune sees the booking and
moves it; the citizen's iCalendar file follows it. The rules themselves (capacity under
concurrency, lapsed holds, every refusal) are tests/integration/test_appointments.py's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import httpx
import pytest
from citizens import Citizen, Registry
from stack import Stack

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.errors import read_rpc_failure
from guichet_kit.grpc_client import mutual_tls_channel

if TYPE_CHECKING:  # the async stub types exist only in the generated .pyi
    AdminStub = pb_grpc.AdministrationProceduresServiceAsyncStub
    CitizenStub = pb_grpc.ProceduresServiceAsyncStub

CODE = "residence-certificate"  # the commune's; collection at the counter by appointment
PLACE = "hotel-de-ville"


def channel(stack: Stack, code: str) -> grpc.aio.Channel:
    certificates = stack.pki / "administrations"
    return mutual_tls_channel(
        stack.procedures_admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(certificates / f"{code}.crt").read_bytes(),
        private_key=(certificates / f"{code}.key").read_bytes(),
        timeout=20,
    )


@pytest.fixture
async def commune(stack: Stack) -> AsyncIterator[AdminStub]:
    async with channel(stack, "commune") as opened:
        yield pb_grpc.AdministrationProceduresServiceStub(opened)


@pytest.fixture
async def justice(stack: Stack) -> AsyncIterator[AdminStub]:
    async with channel(stack, "justice") as opened:
        yield pb_grpc.AdministrationProceduresServiceStub(opened)


@pytest.fixture
async def procedures(stack: Stack) -> AsyncIterator[CitizenStub]:
    async with grpc.aio.insecure_channel(stack.procedures_address) as opened:
        yield pb_grpc.ProceduresServiceStub(opened)


@pytest.fixture
async def registry(
    api: httpx.AsyncClient, infra: dict[str, str], tmp_path: Path
) -> AsyncIterator[Registry]:
    people = Registry(api, infra, tmp_path)
    yield people
    await asyncio.to_thread(people.cleanup)


def as_person(citizen: Citizen) -> tuple[tuple[str, str], ...]:
    return (("authorization", citizen.bearer()["Authorization"]),)


def spec(start: datetime, capacity: int) -> pb.SlotSpec:
    made = pb.SlotSpec(capacity=capacity)
    made.starts_at.FromDatetime(start)
    made.ends_at.FromDatetime(start + timedelta(minutes=20))
    return made


async def refused(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call  # type: ignore[misc]
    failure = read_rpc_failure(error.value)
    return failure.code, failure.reason


async def test_the_commune_opens_slots_and_a_citizen_books_one_through_grpc(
    commune: AdminStub, justice: AdminStub, procedures: CitizenStub, registry: Registry
) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    bad = commune.DefineSlots(
        pb.DefineSlotsRequest(procedure_code=CODE, place_code="moon", slots=[spec(start, 2)])
    )
    assert await refused(bad) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_SLOTS")
    not_theirs = justice.DefineSlots(
        pb.DefineSlotsRequest(procedure_code=CODE, place_code=PLACE, slots=[spec(start, 2)])
    )
    assert await refused(not_theirs) == (grpc.StatusCode.NOT_FOUND, "PROCEDURE_NOT_FOUND")
    opened = await commune.DefineSlots(
        pb.DefineSlotsRequest(
            procedure_code=CODE,
            place_code=PLACE,
            slots=[spec(start, 2), spec(start + timedelta(hours=1), 1)],
        )
    )
    first, second = opened.slots
    assert (first.capacity, first.free, first.place.code) == (2, 2, PLACE)

    anne = await registry.register("Anne")
    me = as_person(anne)
    draft = (
        await procedures.StartDraft(
            pb.StartDraftRequest(procedure_code=CODE, language="fr"), metadata=me
        )
    ).request
    answers = {
        "certificate": {"certificate_type": "simple", "purpose": "employer", "copies": 1},
        "delivery": {"delivery_mode": "counter"},
    }
    for step, values in answers.items():
        await procedures.SaveStep(
            pb.SaveStepRequest(request_id=draft.id, step_id=step, answers_json=json.dumps(values)),
            metadata=me,
        )
    free = await procedures.ListFreeSlots(
        pb.ListFreeSlotsRequest(request_id=draft.id, language="fr"), metadata=me
    )
    offered = {slot.id: slot for slot in free.slots}
    assert offered[first.id].place.name == "Biergerzenter, Hôtel de Ville"
    assert offered[first.id].free == 2

    held = await procedures.HoldSlot(
        pb.HoldSlotRequest(request_id=draft.id, slot_id=first.id), metadata=me
    )
    assert held.request.appointment.state == "held"
    submitted = (
        await procedures.SubmitRequest(
            pb.SubmitRequestRequest(request_id=draft.id, idempotency_key="appointment-1"),
            metadata=me,
        )
    ).request
    assert (submitted.appointment.state, submitted.appointment.slot.id) == ("booked", first.id)
    calendar = await procedures.GetAppointmentCalendar(
        pb.GetAppointmentCalendarRequest(request_id=draft.id), metadata=me
    )
    assert f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}\r\n".encode() in calendar.ics

    incoming = await commune.GetIncomingRequest(
        pb.GetIncomingRequestRequest(reference=submitted.reference)
    )
    assert (incoming.request.appointment.state, incoming.request.appointment.slot.id) == (
        "booked",
        first.id,
    )
    moved = await commune.MoveBooking(
        pb.MoveBookingRequest(
            reference=submitted.reference, slot_id=second.id, reason="Guichet fermé ce jour-là"
        )
    )
    assert moved.request.appointment.slot.id == second.id
    assert moved.request.history[-1].kind == "appointment_changed"
    listed = await commune.ListSlots(pb.ListSlotsRequest(procedure_code=CODE))
    booked = {slot.id: (slot.booked, slot.free) for slot in listed.slots}
    assert (booked[first.id], booked[second.id]) == ((0, 2), (1, 0))
    assert await refused(justice.ListSlots(pb.ListSlotsRequest(procedure_code=CODE))) == (
        grpc.StatusCode.NOT_FOUND,
        "PROCEDURE_NOT_FOUND",
    )

    calendar = await procedures.GetAppointmentCalendar(
        pb.GetAppointmentCalendarRequest(request_id=draft.id), metadata=me
    )
    moved_start = start + timedelta(hours=1)
    assert f"DTSTART:{moved_start.strftime('%Y%m%dT%H%M%SZ')}\r\n".encode() in calendar.ics
