"""Appointments (F32): slots an administration opens at the places a procedure names, held for a
draft for a few minutes, booked when it is submitted, moved or cancelled afterwards by the
citizen or the administration; the booking as an iCalendar file (RFC 5545).

Capacity is never exceeded under concurrency: whoever takes a place locks the slot's row
(`SELECT … FOR UPDATE`) and only then counts its live holds and bookings — takers of one slot go
one after the other, each counting what the previous ones committed. A hold lapses at
`held_until` and is no longer counted; submitting with a lapsed hold is refused (`HOLD_EXPIRED`),
so its place may have gone to someone else meanwhile. Locks are taken request first, then slot.

Every refusal raises before anything is written (the RPC's transaction rolls back anyway).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from guichet.events import subjects
from guichet.events.v1 import procedures_pb2 as events_pb2
from guichet_kit.domain import Conflict, FieldError, InvalidInput, NotFound
from guichet_kit.i18n import Catalog, Language
from guichet_kit.outbox import add_event
from guichet_procedures.definitions.appointment import AppointmentOffer
from guichet_procedures.definitions.model import Definition
from guichet_procedures.requests import events, repository, service
from guichet_procedures.requests.administration import Incoming, incoming_request
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import (
    ACTION_NEEDED,
    APPOINTMENT_CANCELLED,
    BOOKED,
    DRAFT,
    HELD,
    MAX_SLOT_CAPACITY,
    SUBMITTED,
    Appointment,
    AppointmentSlot,
    Request,
)
from guichet_procedures.requests.references import parse_reference

_ = Catalog("guichet_procedures")

APPOINTMENT_CHANGED = subjects.APPOINTMENT_CHANGED
MAX_SLOTS_AT_ONCE = 200
MAX_SLOT_HOURS = 12
MAX_LISTED = 500
MAX_REASON_LENGTH = 2000
LUXEMBOURG = ZoneInfo("Europe/Luxembourg")
# States in which a booking may still move: submitted, or waiting for a correction.
OPEN_STATES = (SUBMITTED, ACTION_NEEDED)


# ---- refusals ----


class SlotNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("SLOT_NOT_FOUND", _("This procedure has no such appointment slot."))


def _not_offered() -> Conflict:
    return Conflict("APPOINTMENT_NOT_OFFERED", _("This procedure does not offer appointments."))


def _slot_full() -> Conflict:
    return Conflict("SLOT_FULL", _("This slot has no free place left: choose another one."))


def _not_changeable() -> Conflict:
    return Conflict(
        "APPOINTMENT_NOT_CHANGEABLE",
        _("This request is closed or cancelled: its appointment can no longer change."),
    )


def _no_appointment() -> Conflict:
    return Conflict("NO_APPOINTMENT", _("This request has no booked appointment."))


# ---- what the rules hand out ----


@dataclass(frozen=True)
class SlotView:
    """A slot with how many of its places are booked and held (live holds only)."""

    slot: AppointmentSlot
    booked: int = 0
    held: int = 0

    @property
    def free(self) -> int:
        return max(self.slot.capacity - self.booked - self.held, 0)


@dataclass(frozen=True)
class SlotSpec:
    """A slot to open, as the administration sent it (None: a moment left unset)."""

    starts_at: datetime | None
    ends_at: datetime | None
    capacity: int


# ---- reading ----


def _live(now: datetime) -> Any:
    return (Appointment.state == BOOKED) | (
        (Appointment.state == HELD) & (Appointment.held_until > now)
    )


async def _taken(
    session: AsyncSession, slot_id: uuid.UUID, now: datetime, except_request: uuid.UUID
) -> int:
    """Live holds and bookings of the slot, but the request's own."""
    count = await session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.slot_id == slot_id,
            Appointment.request_id != except_request,
            _live(now),
        )
    )
    return int(count or 0)


async def _locked_slot(session: AsyncSession, slot_id: uuid.UUID) -> AppointmentSlot | None:
    return (
        await session.scalars(
            select(AppointmentSlot).where(AppointmentSlot.id == slot_id).with_for_update()
        )
    ).one_or_none()


async def appointment_of(
    session: AsyncSession, request_id: uuid.UUID, *, for_update: bool = False
) -> Appointment | None:
    """The request's hold or booking (a cancelled one too), with its slot."""
    statement = (
        select(Appointment)
        .options(selectinload(Appointment.slot))
        .where(Appointment.request_id == request_id)
    )
    if for_update:
        statement = statement.with_for_update(of=Appointment)
    return (await session.scalars(statement)).one_or_none()


async def _views(session: AsyncSession, statement: Select[Any], now: datetime) -> list[SlotView]:
    booked = func.count(Appointment.request_id).filter(Appointment.state == BOOKED)
    held = func.count(Appointment.request_id).filter(
        and_(Appointment.state == HELD, Appointment.held_until > now)
    )
    counted = (
        statement.add_columns(booked, held)
        .outerjoin(Appointment, Appointment.slot_id == AppointmentSlot.id)
        .group_by(AppointmentSlot.id)
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.place_code, AppointmentSlot.id)
        .limit(MAX_LISTED)
    )
    rows = await session.execute(counted)
    return [SlotView(slot, int(b), int(h)) for slot, b, h in rows]


def _offer(definition: Definition) -> AppointmentOffer:
    if definition.appointment is None:
        raise _not_offered()
    return definition.appointment


def _window(statement: Select[Any], start: datetime | None, end: datetime | None) -> Select[Any]:
    if start is not None:
        statement = statement.where(AppointmentSlot.starts_at >= start)
    if end is not None:
        statement = statement.where(AppointmentSlot.starts_at < end)
    return statement


def _unknown_place(field: str) -> InvalidInput:
    message = _("Choose one of the places the procedure names.")
    return InvalidInput("UNKNOWN_PLACE", message, [FieldError(field, "unknown", message)])


async def free_slots(
    session: AsyncSession,
    store: CatalogueStore,
    owner: str,
    request_id: uuid.UUID,
    place_code: str,
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
) -> tuple[list[SlotView], Definition]:
    """Slots the request may take: of its procedure, at a place its version names, not begun,
    with a free place."""
    request = await service.request_of(session, owner, request_id)
    definition = await service.pinned(store, session, request)
    offer = _offer(definition)
    places = [place.code for place in offer.places]
    if place_code:
        if place_code not in places:
            raise _unknown_place("place_code")
        places = [place_code]
    statement = select(AppointmentSlot).where(
        AppointmentSlot.procedure_code == request.procedure_code,
        AppointmentSlot.administration == request.administration,
        AppointmentSlot.place_code.in_(places),
        AppointmentSlot.starts_at > now,
    )
    views = await _views(session, _window(statement, start, end), now)
    return [view for view in views if view.free > 0], definition


# ---- taking a place ----


async def _take(
    session: AsyncSession,
    request: Request,
    definition: Definition,
    slot_id: uuid.UUID,
    *,
    state: str,
    now: datetime,
    reason: str = "",
) -> Appointment:
    """Hold or book a place of the slot for the request (its own previous one is let go)."""
    offer = _offer(definition)
    slot = await _locked_slot(session, slot_id)
    if (
        slot is None
        or slot.procedure_code != request.procedure_code
        or slot.administration != request.administration
        or offer.place(slot.place_code) is None
    ):
        raise SlotNotFound()
    if slot.starts_at <= now:
        raise Conflict("SLOT_PAST", _("This slot has already begun: choose a later one."))
    if await _taken(session, slot.id, now, request.id) >= slot.capacity:
        raise _slot_full()
    current = await appointment_of(session, request.id, for_update=True)
    if current is None:
        current = Appointment(request_id=request.id)
        session.add(current)
    current.slot = slot
    current.state = state
    current.held_until = now + timedelta(minutes=offer.hold_minutes) if state == HELD else None
    current.reason = reason
    current.updated_at = now
    await session.flush()
    return current


async def hold(
    session: AsyncSession,
    store: CatalogueStore,
    acting: service.Acting,
    request_id: uuid.UUID,
    slot_id: uuid.UUID,
    *,
    now: datetime,
) -> tuple[Request, Definition]:
    """Hold a place for a draft for the procedure's hold minutes; a previous hold is let go."""
    request = await service.request_of(session, acting.owner, request_id, for_update=True)
    if request.state != DRAFT:
        raise Conflict(
            "NOT_A_DRAFT",
            _("A slot is held for a draft; change the appointment of a submitted request."),
        )
    definition = await service.pinned(store, session, request)
    await _take(session, request, definition, slot_id, state=HELD, now=now)
    return request, definition


async def book_on_submit(
    session: AsyncSession, request: Request, definition: Definition, *, now: datetime
) -> None:
    """At submission (the request row locked): the live hold becomes a booking. A required
    appointment without a hold, or any lapsed hold, refuses the submission."""
    offer = definition.appointment
    if offer is None:
        return
    current = await appointment_of(session, request.id, for_update=True)
    if current is None or current.state == APPOINTMENT_CANCELLED:
        if offer.required:
            raise Conflict(
                "APPOINTMENT_REQUIRED",
                _("This procedure needs an appointment: choose a slot before submitting."),
            )
        return
    if current.state != HELD:
        return
    if current.held_until is None or current.held_until <= now:
        raise Conflict(
            "HOLD_EXPIRED",
            _("The slot held for you was released after a few minutes: choose a slot again."),
        )
    slot = await _locked_slot(session, current.slot_id)
    if slot is None or await _taken(session, slot.id, now, request.id) >= slot.capacity:
        raise _slot_full()
    current.state = BOOKED
    current.held_until = None
    current.updated_at = now


def describe(slot: AppointmentSlot, definition: Definition, language: Language) -> str:
    """ "Place, date and time" as the history shows a booking, in Luxembourg time."""
    place = definition.appointment.place(slot.place_code) if definition.appointment else None
    name = place.name.text(language) if place is not None else slot.place_code
    when = format_datetime(slot.starts_at.astimezone(LUXEMBOURG), "medium", locale=language.value)
    return f"{name}, {when}"


def load_for_proof(request: Request, appointment: Appointment | None) -> None:
    """The request's appointment set on it for the proof (`proof_line` reads it)."""
    set_committed_value(request, "appointment", appointment)


def proof_line(request: Request, definition: Definition, language: Language) -> str:
    """ "Place, date and time" of the booked appointment the proof prints; empty without one."""
    appointment: Appointment | None = request.__dict__.get("appointment")
    if appointment is None or appointment.state != BOOKED:
        return ""
    return describe(appointment.slot, definition, language)


async def of_requests(
    session: AsyncSession, request_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Appointment]:
    """The appointments (any state) of these requests with their slots, by request (export)."""
    if not request_ids:
        return {}
    rows = await session.scalars(
        select(Appointment)
        .options(selectinload(Appointment.slot))
        .where(Appointment.request_id.in_(request_ids))
    )
    return {row.request_id: row for row in rows}


def exported(appointment: Appointment | None) -> dict[str, Any] | None:
    """The appointment as the person's export gives it (times in UTC)."""
    if appointment is None:
        return None
    return {
        "state": appointment.state,
        "place_code": appointment.slot.place_code,
        "starts_at": appointment.slot.starts_at.isoformat(),
        "ends_at": appointment.slot.ends_at.isoformat(),
        "held_until": appointment.held_until.isoformat() if appointment.held_until else None,
        "reason": appointment.reason,
    }


def appointment_changed(
    request: Request, appointment: Appointment, actor: str, now: datetime
) -> events_pb2.AppointmentChanged:
    event = events_pb2.AppointmentChanged(
        request_id=str(request.id),
        reference=request.reference or "",
        procedure_code=request.procedure_code,
        administration=request.administration,
        state=appointment.state,
        place_code=appointment.slot.place_code,
        actor=actor,
        reason=appointment.reason,
        applicant=events.applicant(request),
    )
    event.occurred_at.FromDatetime(now)
    event.starts_at.FromDatetime(appointment.slot.starts_at)
    event.ends_at.FromDatetime(appointment.slot.ends_at)
    return event


def _record(
    session: AsyncSession,
    request: Request,
    definition: Definition,
    appointment: Appointment,
    actor: str,
    now: datetime,
) -> None:
    """A booking moved or cancelled after submission: the history, the version, the event."""
    moved = appointment.state == BOOKED
    language = Language(request.language)
    text = describe(appointment.slot, definition, language)
    if appointment.reason:
        text = f"{text} — {appointment.reason}"
    repository.add_history(
        request,
        "appointment_changed" if moved else "appointment_cancelled",
        actor,
        now,
        status=request.status,
        text=text,
    )
    request.version += 1
    request.updated_at = now
    add_event(session, APPOINTMENT_CHANGED, appointment_changed(request, appointment, actor, now))


async def change(
    session: AsyncSession,
    store: CatalogueStore,
    acting: service.Acting,
    request_id: uuid.UUID,
    slot_id: uuid.UUID,
    *,
    now: datetime,
) -> tuple[Request, Definition]:
    """The citizen moves their booking to another slot with room (a draft: holds it)."""
    request = await service.request_of(session, acting.owner, request_id, for_update=True)
    if request.state == DRAFT:
        return await hold(session, store, acting, request_id, slot_id, now=now)
    if request.state not in OPEN_STATES:
        raise _not_changeable()
    definition = await service.pinned(store, session, request)
    booked = await _take(session, request, definition, slot_id, state=BOOKED, now=now)
    _record(session, request, definition, booked, service.APPLICANT, now)
    return request, definition


async def cancel(
    session: AsyncSession,
    store: CatalogueStore,
    acting: service.Acting,
    request_id: uuid.UUID,
    *,
    now: datetime,
) -> tuple[Request, Definition]:
    """The citizen lets go of their hold (a draft) or cancels their booking."""
    request = await service.request_of(session, acting.owner, request_id, for_update=True)
    definition = await service.pinned(store, session, request)
    current = await appointment_of(session, request.id, for_update=True)
    if current is None or current.state == APPOINTMENT_CANCELLED:
        raise _no_appointment()
    if request.state != DRAFT and request.state not in OPEN_STATES:
        raise _not_changeable()
    current.state = APPOINTMENT_CANCELLED
    current.held_until = None
    current.reason = ""
    current.updated_at = now
    if request.state != DRAFT:
        _record(session, request, definition, current, service.APPLICANT, now)
    return request, definition


# ---- the administration's side ----


async def _competent_definition(
    session: AsyncSession, store: CatalogueStore, administration: str, code: str
) -> Definition:
    found = await store.current(session, code)
    if found is None or found[1].administration != administration:
        raise service.ProcedureNotFound(code)
    return found[1]


def check_specs(specs: Sequence[SlotSpec], *, now: datetime) -> list[FieldError]:
    """Each slot starts in the future, ends after it starts (within a half day), and has 1 to
    1000 places."""
    errors: list[FieldError] = []
    if not specs:
        errors.append(FieldError("slots", "required", _("Give at least one slot.")))
    if len(specs) > MAX_SLOTS_AT_ONCE:
        errors.append(
            FieldError(
                "slots",
                "too_many",
                _("Open at most {count} slots at once.", count=MAX_SLOTS_AT_ONCE),
            )
        )
    for index, spec in enumerate(specs[:MAX_SLOTS_AT_ONCE]):
        where = f"slots[{index}]"
        if spec.starts_at is None:
            errors.append(FieldError(f"{where}.starts_at", "required", _("Give when it starts.")))
        elif spec.starts_at <= now:
            errors.append(
                FieldError(f"{where}.starts_at", "past", _("A slot is opened in the future."))
            )
        if spec.ends_at is None:
            errors.append(FieldError(f"{where}.ends_at", "required", _("Give when it ends.")))
        elif spec.starts_at is not None and spec.ends_at <= spec.starts_at:
            errors.append(
                FieldError(f"{where}.ends_at", "before_start", _("A slot ends after it starts."))
            )
        elif spec.starts_at is not None and spec.ends_at - spec.starts_at > timedelta(
            hours=MAX_SLOT_HOURS
        ):
            errors.append(
                FieldError(
                    f"{where}.ends_at",
                    "too_long",
                    _("A slot lasts at most {hours} hours.", hours=MAX_SLOT_HOURS),
                )
            )
        if not 1 <= spec.capacity <= MAX_SLOT_CAPACITY:
            errors.append(
                FieldError(
                    f"{where}.capacity",
                    "out_of_range",
                    _("A slot takes 1 to {most} people.", most=MAX_SLOT_CAPACITY),
                )
            )
    return errors


async def define_slots(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    code: str,
    place_code: str,
    specs: Sequence[SlotSpec],
    *,
    now: datetime,
) -> tuple[list[SlotView], Definition]:
    """Open slots at a place of one of the administration's procedures: all or none."""
    definition = await _competent_definition(session, store, administration, code)
    offer = _offer(definition)
    errors = check_specs(specs, now=now)
    if offer.place(place_code) is None:
        errors.insert(
            0,
            FieldError("place_code", "unknown", _("Choose one of the places the procedure names.")),
        )
    if errors:
        raise InvalidInput("INVALID_SLOTS", _("The slots to open have errors."), errors)
    slots = [
        AppointmentSlot(
            id=uuid.uuid4(),
            procedure_code=code,
            place_code=place_code,
            administration=administration,
            starts_at=spec.starts_at.astimezone(UTC) if spec.starts_at else now,
            ends_at=spec.ends_at.astimezone(UTC) if spec.ends_at else now,
            capacity=spec.capacity,
            created_at=now,
        )
        for spec in specs
    ]
    session.add_all(slots)
    await session.flush()
    return [SlotView(slot) for slot in slots], definition


async def list_slots(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    code: str,
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
) -> tuple[list[SlotView], Definition]:
    definition = await _competent_definition(session, store, administration, code)
    statement = select(AppointmentSlot).where(
        AppointmentSlot.procedure_code == code, AppointmentSlot.administration == administration
    )
    return await _views(session, _window(statement, start, end), now), definition


async def _booked(session: AsyncSession, incoming: Incoming) -> Appointment:
    if incoming.request.state not in OPEN_STATES:
        raise _not_changeable()
    current = await appointment_of(session, incoming.request.id, for_update=True)
    if current is None or current.state != BOOKED:
        raise _no_appointment()
    return current


async def move_booking(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    reference: str,
    display: str,
    slot_id: uuid.UUID,
    reason: str,
    *,
    now: datetime,
) -> Incoming:
    """The administration moves a booking to another of its slots with room, saying why."""
    incoming = await incoming_request(
        session, store, administration, reference, display, for_update=True
    )
    await _booked(session, incoming)
    moved = await _take(
        session,
        incoming.request,
        incoming.definition,
        slot_id,
        state=BOOKED,
        now=now,
        reason=reason,
    )
    _record(session, incoming.request, incoming.definition, moved, administration, now)
    return incoming


async def cancel_booking(
    session: AsyncSession,
    store: CatalogueStore,
    administration: str,
    reference: str,
    display: str,
    reason: str,
    *,
    now: datetime,
) -> Incoming:
    """The administration cancels a booking, with a reason the citizen reads."""
    incoming = await incoming_request(
        session, store, administration, reference, display, for_update=True
    )
    current = await _booked(session, incoming)
    current.state = APPOINTMENT_CANCELLED
    current.reason = reason
    current.updated_at = now
    _record(session, incoming.request, incoming.definition, current, administration, now)
    return incoming


# ---- the iCalendar file ----


async def booked_of(
    session: AsyncSession, store: CatalogueStore, owner: str, request_id: uuid.UUID
) -> tuple[Request, Definition, Appointment]:
    request = await service.request_of(session, owner, request_id)
    current = await appointment_of(session, request.id)
    if current is None or current.state != BOOKED:
        raise _no_appointment()
    return request, await service.pinned(store, session, request), current


def _escape(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> bytes:
    """A content line in UTF-8, folded at 75 octets with CRLF and a space, never inside a
    character (RFC 5545 3.1)."""
    encoded = line.encode("utf-8")
    parts: list[bytes] = []
    limit = 75
    while len(encoded) > limit:
        cut = limit
        while cut > 0 and (encoded[cut] & 0xC0) == 0x80:  # a UTF-8 continuation byte
            cut -= 1
        parts.append(encoded[:cut])
        encoded = encoded[cut:]
        limit = 74  # the next lines start with the folding space
    parts.append(encoded)
    return b"\r\n ".join(parts) + b"\r\n"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def icalendar(
    request: Request,
    definition: Definition,
    appointment: Appointment,
    language: Language,
    *,
    now: datetime,
    domain: str = "guichet.lu",
) -> bytes:
    """The booking as a VCALENDAR with one VEVENT; times in UTC."""
    slot = appointment.slot
    place = definition.appointment.place(slot.place_code) if definition.appointment else None
    reference = parse_reference(request.reference).display if request.reference else ""
    title = definition.title.text(language)
    location = f"{place.name.text(language)}, {place.address}" if place else slot.place_code
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//OpenGuichet//Procedures//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{request.id}@{domain}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(slot.starts_at)}",
        f"DTEND:{_utc(slot.ends_at)}",
        f"SEQUENCE:{request.version}",
        f"SUMMARY:{_escape(f'{title} ({reference})' if reference else title)}",
        f"LOCATION:{_escape(location)}",
        f"DESCRIPTION:{_escape(reference)}",
        "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return b"".join(_fold(line) for line in lines)
