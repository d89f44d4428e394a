"""AdministrationProceduresService: administrations' back offices over mutual TLS. The client
certificate's common name is the administration; the rules decide what it may see and do."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.domain import FieldError, FieldErrors, InvalidInput
from guichet_kit.i18n import Catalog, Language, current_language
from guichet_kit.servicers import Call, Db, DeclaredServicer, administration, rpc, rpc_stream
from guichet_kit.values import InvalidValue, parse_human_text
from guichet_procedures.api import files_wire, signature_wire, wire
from guichet_procedures.api.citizen import parse_slot_id, slot_window
from guichet_procedures.api.files import WalletFiles, files_unavailable
from guichet_procedures.requests import administration as rules
from guichet_procedures.requests import appointments, attachments
from guichet_procedures.requests.administration import Incoming
from guichet_procedures.requests.appointments import SlotSpec
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import RequestHistory
from guichet_procedures.requests.references import InvalidRequestReference, parse_reference

_ = Catalog("guichet_procedures")

PROCEDURE_CODE = re.compile(r"[a-z][a-z0-9-]{2,59}")
STATUS_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")

STATE_OF = {
    "submitted": pb.REQUEST_STATE_SUBMITTED,
    "action_needed": pb.REQUEST_STATE_ACTION_NEEDED,
    "closed": pb.REQUEST_STATE_CLOSED,
}
NOTE_KIND_OF: dict[int, rules.NoteKind] = {
    pb.NOTE_KIND_MESSAGE: "message",
    pb.NOTE_KIND_DECISION: "decision",
}


def _reference(text: str) -> tuple[str, str]:
    """(canonical, display) of a reference as typed; a malformed one names nothing."""
    try:
        reference = parse_reference(text)
    except InvalidRequestReference as error:
        raise InvalidInput(
            "INVALID_REFERENCE",
            error.message,
            [FieldError("reference", error.reason, error.message)],
        ) from error
    return reference.canonical, reference.display


def _text(errors: FieldErrors, field: str, value: str, max_length: int, *, required: bool) -> str:
    try:
        return parse_human_text(value, max_length=max_length, required=required, multiline=True)
    except InvalidValue as error:
        errors.add(field, error.reason, error.message)
        return ""


def _expected_version(errors: FieldErrors, value: int) -> None:
    if value < 1:
        errors.add(
            "expected_version",
            "required",
            _("Give the version of the request you read (its `version`)."),
        )


def _procedure_code(errors: FieldErrors, value: str) -> str:
    if value and not PROCEDURE_CODE.fullmatch(value):
        errors.add("procedure_code", "format", _("A procedure code is like change-of-address."))
    return value


def _history_to_proto(
    entry: RequestHistory, incoming: Incoming, language: Language
) -> pb.HistoryEntry:
    proto = pb.HistoryEntry(
        kind=entry.kind,
        actor=entry.actor,
        status=entry.status or "",
        status_text=rules.status_text(incoming.definition, entry.status, language),
        text=entry.text,
        field_ids=entry.fields,
    )
    proto.occurred_at.FromDatetime(entry.occurred_at)
    return proto


def incoming_to_proto(incoming: Incoming) -> pb.IncomingRequest:
    """The request as its administration receives it; texts in the request's language."""
    request = incoming.request
    language = Language(request.language)
    proto = pb.IncomingRequest(
        reference=parse_reference(request.reference or "").display,
        procedure_code=request.procedure_code,
        procedure_version=request.procedure_version,
        status=request.status or "",
        version=request.version,
        cursor=request.incoming_sequence or 0,
        state=STATE_OF.get(request.state, pb.REQUEST_STATE_UNSPECIFIED),
        applicant=request.owner or "",
        applicant_name=request.applicant_name or "",
        language=request.language,
        answers_json=_json(request.answers),
        answers_sha256=request.answers_sha256 or "",
        history=[_history_to_proto(entry, incoming, language) for entry in request.history],
        asked_field_ids=request.asked_fields,
    )
    if request.submitted_at is not None:
        proto.submitted_at.FromDatetime(request.submitted_at)
    proto.updated_at.FromDatetime(request.updated_at)
    # F32: loaded with the request (`rules._competent`).
    appointment = wire.appointment_to_proto(request.appointment, incoming.definition, language)
    if appointment is not None:
        proto.appointment.CopyFrom(appointment)
    signature_wire.fill_incoming(proto, request.signature)  # F26
    # F25: the files submitted with it (loaded with the request, `rules._competent`).
    proto.attachments.extend(
        files_wire.attachment_to_proto(row)
        for row in request.attachments
        if row.submitted_at is not None
    )
    return proto


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _moment(spec: pb.SlotSpec, field: Literal["starts_at", "ends_at"]) -> datetime | None:
    return getattr(spec, field).ToDatetime(tzinfo=UTC) if spec.HasField(field) else None


def _reason(errors: FieldErrors, value: str) -> str:
    """Why a booking moves or is cancelled: the citizen reads it."""
    return _text(errors, "reason", value, appointments.MAX_REASON_LENGTH, required=True)


def _administration(call: Call) -> str:
    # Always set for an `administration()` RPC: the declaration refused the call otherwise.
    return call.administration or ""


class AdministrationProceduresServicer(
    DeclaredServicer, pb_grpc.AdministrationProceduresServiceServicer
):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: CatalogueStore,
        events_written: Callable[[], None],
        *,
        stream_poll_seconds: float,
        files: WalletFiles | None = None,
    ) -> None:
        super().__init__(sessions, events_written)
        self._store = store
        self._poll = stream_poll_seconds
        # F25: the wallet's file pipeline, where the requests' files are kept.
        self._files = files

    def _page_size(self, errors: FieldErrors, value: int) -> int:
        if value < 0:
            errors.add("page_size", "negative", _("The page size cannot be negative."))
        if value <= 0:
            return rules.DEFAULT_PAGE_SIZE
        return min(value, rules.MAX_PAGE_SIZE)

    @staticmethod
    def _cursor(errors: FieldErrors, value: int) -> int:
        if value < 0:
            errors.add("after_cursor", "negative", _("A cursor is 0 or a request's cursor."))
        return value

    @rpc(administration(), db=Db.READ)
    async def ListIncomingRequests(
        self, request: pb.ListIncomingRequestsRequest, call: Call
    ) -> pb.ListIncomingRequestsResponse:
        errors = FieldErrors()
        after = self._cursor(errors, request.after_cursor)
        size = self._page_size(errors, request.page_size)
        code = _procedure_code(errors, request.procedure_code)
        if errors:
            raise InvalidInput(
                "INVALID_INCOMING_QUERY", _("The list of requests asked has errors."), errors.errors
            )
        page = await rules.incoming_after(
            call.session, self._store, _administration(call), after, size, code
        )
        return pb.ListIncomingRequestsResponse(
            requests=[incoming_to_proto(incoming) for incoming in page],
            last_cursor=(page[-1].request.incoming_sequence or after) if page else after,
        )

    @rpc_stream(administration())
    async def StreamIncomingRequests(
        self, request: pb.StreamIncomingRequestsRequest, call: Call
    ) -> AsyncIterator[pb.StreamIncomingRequestsResponse]:
        errors = FieldErrors()
        cursor = self._cursor(errors, request.after_cursor)
        code = _procedure_code(errors, request.procedure_code)
        if errors:
            raise InvalidInput(
                "INVALID_INCOMING_QUERY", _("The list of requests asked has errors."), errors.errors
            )
        who = _administration(call)
        # A short read session per look: an open stream holds no connection while it waits.
        while True:
            async with self.read_sessions()() as session:
                page = await rules.incoming_after(
                    session, self._store, who, cursor, rules.MAX_PAGE_SIZE, code
                )
            for incoming in page:
                yield pb.StreamIncomingRequestsResponse(request=incoming_to_proto(incoming))
                cursor = incoming.request.incoming_sequence or cursor
            if len(page) < rules.MAX_PAGE_SIZE:
                await asyncio.sleep(self._poll)

    @rpc(administration(), db=Db.READ)
    async def GetIncomingRequest(
        self, request: pb.GetIncomingRequestRequest, call: Call
    ) -> pb.GetIncomingRequestResponse:
        reference, display = _reference(request.reference)
        incoming = await rules.incoming_request(
            call.session, self._store, _administration(call), reference, display
        )
        return pb.GetIncomingRequestResponse(request=incoming_to_proto(incoming))

    @rpc_stream(administration(), db=Db.READ)
    async def ReadAttachment(
        self, request: pb.ReadAttachmentRequest, call: Call
    ) -> AsyncIterator[pb.ReadAttachmentResponse]:
        """F25: a submitted file of a request of its competence, streamed from the wallet's
        immutable copy: its description first, then its bytes."""
        reference, display = _reference(request.reference)
        attachment_id = files_wire.attachment_id(request.attachment_id)
        incoming = await rules.incoming_request(
            call.session, self._store, _administration(call), reference, display
        )
        row = await attachments.attachment_of(call.session, incoming.request.id, attachment_id)
        if row.submitted_at is None:  # still the citizen's, until a submission carries it
            raise attachments.AttachmentNotFound()
        if self._files is None:
            raise files_unavailable()
        yield pb.ReadAttachmentResponse(header=files_wire.attachment_to_proto(row))
        async for chunk in self._files.read(row.copy_id):
            yield pb.ReadAttachmentResponse(chunk=chunk)

    @rpc(administration())
    async def ChangeStatus(
        self, request: pb.ChangeStatusRequest, call: Call
    ) -> pb.ChangeStatusResponse:
        reference, display = _reference(request.reference)
        errors = FieldErrors()
        if not request.status:
            errors.add("status", "required", _("Give the new status."))
        elif not STATUS_CODE.fullmatch(request.status):
            errors.add("status", "format", _("A status is a code of the procedure's statuses."))
        _expected_version(errors, request.expected_version)
        comment = _text(
            errors, "comment", request.comment, rules.MAX_COMMENT_LENGTH, required=False
        )
        if errors:
            raise InvalidInput(
                "INVALID_STATUS_CHANGE", _("The status change has errors."), errors.errors
            )
        incoming = await rules.change_status(
            call.session,
            self._store,
            _administration(call),
            reference,
            display,
            request.status,
            request.expected_version,
            comment,
            now=datetime.now(UTC),
        )
        return pb.ChangeStatusResponse(request=incoming_to_proto(incoming))

    @rpc(administration())
    async def AskCorrection(
        self, request: pb.AskCorrectionRequest, call: Call
    ) -> pb.AskCorrectionResponse:
        reference, display = _reference(request.reference)
        errors = FieldErrors()
        field_ids = list(request.field_ids)
        if len(field_ids) > rules.MAX_ASKED_FIELDS:
            errors.add(
                "field_ids",
                "too_many",
                _("Ask about at most {limit} fields at once.", limit=rules.MAX_ASKED_FIELDS),
            )
        seen: set[str] = set()
        for index, field_id in enumerate(field_ids):
            if field_id in seen:
                errors.add(f"field_ids[{index}]", "duplicate", _("This field is asked twice."))
            seen.add(field_id)
        message = _text(
            errors, "message", request.message, rules.MAX_CORRECTION_MESSAGE_LENGTH, required=True
        )
        _expected_version(errors, request.expected_version)
        if errors:
            raise InvalidInput(
                "INVALID_CORRECTION_REQUEST", _("The correction asked has errors."), errors.errors
            )
        incoming = await rules.ask_correction(
            call.session,
            self._store,
            _administration(call),
            reference,
            display,
            field_ids,
            message,
            request.expected_version,
            now=datetime.now(UTC),
        )
        return pb.AskCorrectionResponse(request=incoming_to_proto(incoming))

    @rpc(administration())
    async def AddNote(self, request: pb.AddNoteRequest, call: Call) -> pb.AddNoteResponse:
        reference, display = _reference(request.reference)
        errors = FieldErrors()
        kind = NOTE_KIND_OF.get(request.kind)
        if kind is None:
            errors.add("kind", "required", _("Say whether the note is a message or a decision."))
        note = _text(errors, "text", request.text, rules.MAX_NOTE_LENGTH, required=True)
        if errors:
            raise InvalidInput("INVALID_NOTE", _("The note has errors."), errors.errors)
        incoming = await rules.add_note(
            call.session,
            self._store,
            _administration(call),
            reference,
            display,
            kind or "message",
            note,
            now=datetime.now(UTC),
        )
        return pb.AddNoteResponse(request=incoming_to_proto(incoming))

    # ---- appointments (F32) ----

    @rpc(administration())
    async def DefineSlots(
        self, request: pb.DefineSlotsRequest, call: Call
    ) -> pb.DefineSlotsResponse:
        errors = FieldErrors()
        code = _procedure_code(errors, request.procedure_code)
        if not code:
            errors.add("procedure_code", "required", _("Give the procedure's code."))
        if not request.place_code:
            errors.add("place_code", "required", _("Give the code of one of its places."))
        if errors:
            raise InvalidInput("INVALID_SLOTS", _("The slots to open have errors."), errors.errors)
        specs = [
            SlotSpec(_moment(spec, "starts_at"), _moment(spec, "ends_at"), spec.capacity)
            for spec in request.slots
        ]
        views, definition = await appointments.define_slots(
            call.session,
            self._store,
            _administration(call),
            code,
            request.place_code,
            specs,
            now=datetime.now(UTC),
        )
        language = current_language()
        return pb.DefineSlotsResponse(
            slots=[
                wire.slot_to_proto(view.slot, definition, language, free=view.free)
                for view in views
            ]
        )

    @rpc(administration(), db=Db.READ)
    async def ListSlots(self, request: pb.ListSlotsRequest, call: Call) -> pb.ListSlotsResponse:
        errors = FieldErrors()
        code = _procedure_code(errors, request.procedure_code)
        if not code:
            errors.add("procedure_code", "required", _("Give the procedure's code."))
        if errors:
            raise InvalidInput("INVALID_SLOTS", _("The slots asked have errors."), errors.errors)
        start, end = slot_window(request)
        views, definition = await appointments.list_slots(
            call.session,
            self._store,
            _administration(call),
            code,
            start,
            end,
            now=datetime.now(UTC),
        )
        language = current_language()
        return pb.ListSlotsResponse(
            slots=[
                wire.slot_to_proto(
                    view.slot, definition, language, free=view.free, booked=view.booked
                )
                for view in views
            ]
        )

    @rpc(administration())
    async def MoveBooking(
        self, request: pb.MoveBookingRequest, call: Call
    ) -> pb.MoveBookingResponse:
        reference, display = _reference(request.reference)
        slot_id = parse_slot_id(request.slot_id)
        errors = FieldErrors()
        reason = _reason(errors, request.reason)
        if errors:
            raise InvalidInput(
                "INVALID_BOOKING_CHANGE", _("The change of booking has errors."), errors.errors
            )
        incoming = await appointments.move_booking(
            call.session,
            self._store,
            _administration(call),
            reference,
            display,
            slot_id,
            reason,
            now=datetime.now(UTC),
        )
        return pb.MoveBookingResponse(request=incoming_to_proto(incoming))

    @rpc(administration())
    async def CancelBooking(
        self, request: pb.CancelBookingRequest, call: Call
    ) -> pb.CancelBookingResponse:
        reference, display = _reference(request.reference)
        errors = FieldErrors()
        reason = _reason(errors, request.reason)
        if errors:
            raise InvalidInput(
                "INVALID_BOOKING_CHANGE", _("The change of booking has errors."), errors.errors
            )
        incoming = await appointments.cancel_booking(
            call.session,
            self._store,
            _administration(call),
            reference,
            display,
            reason,
            now=datetime.now(UTC),
        )
        return pb.CancelBookingResponse(request=incoming_to_proto(incoming))
