"""/api/v1/me/requests/{id}/appointment…: a request's appointment (F32).

A procedure may offer or require an appointment at one of the places its definition names; the
administration opens slots there. The free slots are listed for one of the caller's drafts or
requests; a slot is held for a draft for a few minutes (`held_until`) and booked when the draft is
submitted; a submitted request's booking is moved to another slot or cancelled; the booking is
downloaded as an iCalendar file. Whose request is the acting context's, as for every request
(`X-Acting-Context`): another person's is unknown (404). Capacity, lapsed holds and every other
rule are the procedures service's; a refusal changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser, LanguageDep, acts_in_context
from guichet_gateway.fields import UUID_EXAMPLE, UuidPath
from guichet_gateway.openapi import refusals
from guichet_gateway.procedures import MY_REQUESTS, RequestId, request_url
from guichet_gateway.wallet import content_disposition
from guichet_gateway.wire import timestamp

router = APIRouter(tags=["procedures"])

CALENDAR = "text/calendar"
PLACE_PATTERN = r"^[a-z][a-z0-9-]{1,39}$"
PLACE_MAX_LENGTH = 40
PLACE_EXAMPLE = "hotel-de-ville"
_IN_CONTEXT = [acts_in_context]

_MANDATE = "No `procedures:read` / `procedures:write` mandate or role for the acting context."
_UNKNOWN_REQUEST = (
    "No draft or request with this id in the acting context (REQUEST_NOT_FOUND): another "
    "person's is unknown here too."
)
_NOT_OFFERED = "The procedure offers no appointment (APPOINTMENT_NOT_OFFERED)."
_UNKNOWN_SLOT = (
    f"{_UNKNOWN_REQUEST} Or no such slot for this request's procedure and places (SLOT_NOT_FOUND)."
)
_TAKING = (
    f"The slot has no free place left (SLOT_FULL) or has begun (SLOT_PAST); {{own}} {_NOT_OFFERED}"
)
_BAD_SLOT = "A slot id that is not one (VALIDATION_FAILED, INVALID_SLOT_ID)."


# --- what the API answers ---------------------------------------------------------------------


class PlaceOut(BaseModel):
    code: str = Field(examples=[PLACE_EXAMPLE])
    name: str = Field(description="In the caller's language")
    address: str


class SlotOut(BaseModel):
    id: str = Field(examples=[UUID_EXAMPLE])
    place: PlaceOut
    starts_at: datetime | None
    ends_at: datetime | None
    capacity: int
    free: int = Field(description="Places neither booked nor held now")


class SlotsOut(BaseModel):
    items: list[SlotOut] = Field(description="Slots not begun with a free place, by start time")


AppointmentState = Literal["none", "held", "booked", "cancelled"]
_STATES: dict[str, AppointmentState] = {
    "held": "held",
    "booked": "booked",
    "cancelled": "cancelled",
}


class AppointmentOut(BaseModel):
    """A request's appointment: the slot held (a draft) or booked (a submitted request)."""

    state: AppointmentState = Field(
        description="none (never taken), held (for a draft, until `held_until`), booked, or "
        "cancelled (by the person or the administration)"
    )
    slot: SlotOut | None = Field(description="The slot held, booked or cancelled; null if none")
    held_until: datetime | None = Field(
        description="A hold lapses then unless the draft is submitted (it must be held again)"
    )
    reason: str = Field(description="Why the administration moved or cancelled it, if it did")
    request_url: str
    calendar_url: str = Field(description="The booking as an iCalendar file; empty unless booked")


class SlotChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot_id: UuidPath = Field(description="One of GET …/appointment-slots")


def slot_out(slot: pb.Slot) -> SlotOut:
    return SlotOut(
        id=slot.id,
        place=PlaceOut(code=slot.place.code, name=slot.place.name, address=slot.place.address),
        starts_at=timestamp(slot.starts_at),
        ends_at=timestamp(slot.ends_at),
        capacity=slot.capacity,
        free=slot.free,
    )


def appointment_url(request_id: str) -> str:
    return f"{request_url(request_id)}/appointment"


def appointment_out(request: pb.Request) -> AppointmentOut:
    given = request.appointment
    taken = request.HasField("appointment") and bool(given.slot.id)
    state = _STATES.get(given.state, "none") if taken else "none"
    return AppointmentOut(
        state=state,
        slot=slot_out(given.slot) if taken else None,
        held_until=timestamp(given.held_until) if state == "held" else None,
        reason=given.reason if taken else "",
        request_url=request_url(request.id),
        calendar_url=f"{appointment_url(request.id)}/calendar" if state == "booked" else "",
    )


# --- what the API takes -----------------------------------------------------------------------

PlaceQuery = Annotated[
    str,
    Query(
        max_length=PLACE_MAX_LENGTH,
        pattern=PLACE_PATTERN,
        description="One place only (a place `code` of the slots); all by default",
        examples=[PLACE_EXAMPLE],
    ),
]


# --- the routes -------------------------------------------------------------------------------


@router.get(
    f"{MY_REQUESTS}/{{request_id}}/appointment-slots",
    response_model=SlotsOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: _UNKNOWN_REQUEST,
            409: _NOT_OFFERED,
            422: "A place the procedure does not name (UNKNOWN_PLACE), or not a place code "
            "(VALIDATION_FAILED).",
        }
    ),
)
async def list_free_slots(
    request_id: RequestId,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
    place: PlaceQuery = "",
) -> SlotsOut:
    """F32: the slots this request may take — of its procedure, at the places its version
    names, not begun, with a free place — their place and times (UTC; the places are in
    Luxembourg) in the caller's language."""
    reply = await calls.procedures.ListFreeSlots(
        pb.ListFreeSlotsRequest(request_id=request_id, place_code=place, language=language)
    )
    return SlotsOut(items=[slot_out(slot) for slot in reply.slots])


@router.get(
    f"{MY_REQUESTS}/{{request_id}}/appointment",
    response_model=AppointmentOut,
    dependencies=_IN_CONTEXT,
    responses=refusals({403: _MANDATE, 404: _UNKNOWN_REQUEST}),
)
async def get_appointment(
    request_id: RequestId, calls: Calls, user: CurrentUser, language: LanguageDep
) -> AppointmentOut:
    """F32: the request's appointment: held, booked, cancelled, or none."""
    reply = await calls.procedures.GetRequest(
        pb.GetRequestRequest(request_id=request_id, language=language)
    )
    return appointment_out(reply.request)


@router.post(
    f"{MY_REQUESTS}/{{request_id}}/appointment/hold",
    response_model=AppointmentOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: _UNKNOWN_SLOT,
            409: _TAKING.format(own="not a draft (NOT_A_DRAFT: change the appointment instead)."),
            422: _BAD_SLOT,
        }
    ),
)
async def hold_slot(
    request_id: RequestId,
    body: SlotChoiceIn,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> AppointmentOut:
    """F32: hold a place of a slot for a draft while its form is finished: for the procedure's
    few minutes (`held_until`); submitting the draft in time books it, later the submission is
    refused (HOLD_EXPIRED) and a slot is chosen again. A previous hold is let go."""
    reply = await calls.procedures.HoldSlot(
        pb.HoldSlotRequest(request_id=request_id, slot_id=body.slot_id, language=language)
    )
    return appointment_out(reply.request)


@router.put(
    f"{MY_REQUESTS}/{{request_id}}/appointment",
    response_model=AppointmentOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: _UNKNOWN_SLOT,
            409: _TAKING.format(
                own="the request is closed or cancelled (APPOINTMENT_NOT_CHANGEABLE)."
            ),
            422: _BAD_SLOT,
        }
    ),
)
async def change_appointment(
    request_id: RequestId,
    body: SlotChoiceIn,
    calls: Calls,
    user: CurrentUser,
    language: LanguageDep,
) -> AppointmentOut:
    """F32: move a submitted request's booking to another slot with room (the administration
    is told; the history says so). For a draft, the same as holding the slot."""
    reply = await calls.procedures.ChangeAppointment(
        pb.ChangeAppointmentRequest(request_id=request_id, slot_id=body.slot_id, language=language)
    )
    return appointment_out(reply.request)


@router.delete(
    f"{MY_REQUESTS}/{{request_id}}/appointment",
    response_model=AppointmentOut,
    dependencies=_IN_CONTEXT,
    responses=refusals(
        {
            403: _MANDATE,
            404: _UNKNOWN_REQUEST,
            409: "No hold or booking to cancel (NO_APPOINTMENT), or the request is closed or "
            "cancelled (APPOINTMENT_NOT_CHANGEABLE).",
        }
    ),
)
async def cancel_appointment(
    request_id: RequestId, calls: Calls, user: CurrentUser, language: LanguageDep
) -> AppointmentOut:
    """F32: let go of a draft's hold, or cancel a submitted request's booking (the
    administration is told). A procedure that requires an appointment then needs a new one
    before a draft is submitted."""
    reply = await calls.procedures.CancelAppointment(
        pb.CancelAppointmentRequest(request_id=request_id, language=language)
    )
    return appointment_out(reply.request)


@router.get(
    f"{MY_REQUESTS}/{{request_id}}/appointment/calendar",
    response_class=Response,
    dependencies=_IN_CONTEXT,
    responses={
        200: {
            "description": "The booking as an iCalendar file (RFC 5545): the place, its address "
            "and the times, in the caller's language",
            "content": {CALENDAR: {"schema": {"type": "string"}}},
            "headers": {
                "Content-Disposition": {"required": True, "schema": {"type": "string"}},
            },
        },
        **refusals(
            {
                403: _MANDATE,
                404: _UNKNOWN_REQUEST,
                409: "No booked appointment (NO_APPOINTMENT): a hold is booked on submission.",
            }
        ),
    },
)
async def download_calendar(
    request_id: RequestId, calls: Calls, user: CurrentUser, language: LanguageDep
) -> Response:
    """F32: the booked appointment, to add to a calendar."""
    reply = await calls.procedures.GetAppointmentCalendar(
        pb.GetAppointmentCalendarRequest(request_id=request_id, language=language)
    )
    return Response(
        reply.ics,
        media_type=f"{CALENDAR}; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition(reply.filename or "appointment.ics"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
