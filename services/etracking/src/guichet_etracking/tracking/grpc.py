"""gRPC servicers: declared RPCs that validate requests, call the rules and build the replies."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_etracking.tracking import service
from guichet_etracking.tracking.catalogue import PAPER_FORMS, UnknownPaperForm, find_paper_form
from guichet_etracking.tracking.contact import InvalidContact, notification_choice
from guichet_etracking.tracking.number import (
    InvalidTrackingNumber,
    TrackingNumber,
    parse_tracking_number,
)
from guichet_etracking.tracking.sheet import render_tracking_sheet
from guichet_etracking.tracking.wire import (
    paper_form_to_proto,
    status_from_proto,
    tracking_to_proto,
)
from guichet_kit.domain import FieldError, FieldErrors, InvalidInput
from guichet_kit.i18n import Catalog, Language
from guichet_kit.mandates import MandateChecker
from guichet_kit.servicers import (
    ANY_CONTEXT,
    Call,
    Db,
    DeclaredServicer,
    administration,
    citizen,
    public,
    request_language,
    rpc,
)
from guichet_kit.values import InvalidValue, parse_human_text

_ = Catalog("guichet_etracking")

MAX_COMMENT_LENGTH = 500


def _number(text: str) -> TrackingNumber:
    try:
        return parse_tracking_number(text)
    except InvalidTrackingNumber as error:
        raise InvalidInput(
            "INVALID_TRACKING_NUMBER",
            error.message,
            [FieldError("number", error.reason, error.message)],
        ) from error


class TrackingServicer(DeclaredServicer, pb_grpc.TrackingServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        public_base_url: str,
        mandates: MandateChecker,
        events_written: Callable[[], None],
    ) -> None:
        super().__init__(sessions, events_written)
        self._public_base_url = public_base_url.rstrip("/")
        self._mandates = mandates

    @rpc(public(), db=Db.NONE)
    async def ListPaperForms(
        self, request: pb.ListPaperFormsRequest, call: Call
    ) -> pb.ListPaperFormsResponse:
        language = request_language(request.language, default=Language.FR)
        return pb.ListPaperFormsResponse(
            paper_forms=[paper_form_to_proto(form, language) for form in PAPER_FORMS]
        )

    @rpc(public())
    async def CreateTracking(
        self, request: pb.CreateTrackingRequest, call: Call
    ) -> pb.CreateTrackingResponse:
        errors = FieldErrors()
        form = None
        try:
            form = find_paper_form(request.paper_form_code)
        except UnknownPaperForm:
            errors.add(
                "paper_form_code",
                "unknown",
                _("Choose a paper form from the list of forms that can be tracked."),
            )
        choice = None
        try:
            choice = notification_choice(
                request.notify_by_email,
                request.email,
                request.notify_by_sms,
                request.phone,
                request.language,
            )
        except InvalidContact as error:
            errors.errors.extend(error.fields)
        if errors or form is None or choice is None:
            raise InvalidInput(
                "INVALID_TRACKING_REQUEST", _("The tracking request has errors."), errors.errors
            )
        # Signed in: the tracking goes to the space the caller acts for; else it is anonymous.
        owner = created_by = None
        if call.principal is not None:
            owner = await self._mandates.owner(
                call.principal, call.acting, "etracking:write", act=f"eTracking of {form.code}"
            )
            created_by = call.principal.person
        tracking = await service.create_tracking(call.session, form, choice, owner, created_by)
        return pb.CreateTrackingResponse(tracking=tracking_to_proto(tracking, choice.language))

    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListMyTrackings(
        self, request: pb.ListMyTrackingsRequest, call: Call
    ) -> pb.ListMyTrackingsResponse:
        language = request_language(request.language, default=Language.FR)
        # Reading someone else's trackings is an act on their behalf: it goes to their audit.
        act = "" if call.acting.kind == "private" else "listed the eTrackings"
        owner = await self._mandates.owner(call.person, call.acting, "etracking:read", act=act)
        trackings = await service.trackings_of(call.session, owner)
        return pb.ListMyTrackingsResponse(
            trackings=[tracking_to_proto(tracking, language) for tracking in trackings]
        )

    @rpc(public(), db=Db.READ)
    async def LookupTracking(
        self, request: pb.LookupTrackingRequest, call: Call
    ) -> pb.LookupTrackingResponse:
        number = _number(request.number)
        language = request_language(request.language, default=Language.FR)
        tracking = await service.find_tracking(call.session, number)
        return pb.LookupTrackingResponse(tracking=tracking_to_proto(tracking, language))

    @rpc(public(), db=Db.READ)
    async def GetTrackingSheet(
        self, request: pb.GetTrackingSheetRequest, call: Call
    ) -> pb.GetTrackingSheetResponse:
        number = _number(request.number)
        tracking = await service.find_tracking(call.session, number)
        language = request_language(request.language, default=Language(tracking.language))
        pdf = render_tracking_sheet(
            number,
            find_paper_form(tracking.paper_form_code),
            language,
            tracking.created_at,
            f"{self._public_base_url}/api/v1/etracking/trackings/{number.canonical}",
        )
        return pb.GetTrackingSheetResponse(pdf=pdf, filename=f"etracking-{number.canonical}.pdf")


class AdministrationServicer(DeclaredServicer, pb_grpc.AdministrationTrackingServiceServicer):
    @rpc(administration())
    async def ScanTracking(
        self, request: pb.ScanTrackingRequest, call: Call
    ) -> pb.ScanTrackingResponse:
        number = _number(request.number)
        result = await service.scan(call.session, number, _administration(call))
        return pb.ScanTrackingResponse(
            tracking=tracking_to_proto(result.tracking, Language(result.tracking.language)),
            already_received=result.already_received,
        )

    @rpc(administration())
    async def UpdateTrackingStatus(
        self, request: pb.UpdateTrackingStatusRequest, call: Call
    ) -> pb.UpdateTrackingStatusResponse:
        number = _number(request.number)
        errors = FieldErrors()
        target = status_from_proto(request.status)
        if target is None:
            errors.add("status", "unspecified", _("Give the new status."))
        comment = ""
        try:
            comment = parse_human_text(
                request.comment, max_length=MAX_COMMENT_LENGTH, required=False, multiline=True
            )
        except InvalidValue as error:
            errors.add("comment", error.reason, error.message)
        if errors or target is None:
            raise InvalidInput(
                "INVALID_STATUS_UPDATE", _("The status update has errors."), errors.errors
            )
        tracking = await service.update_status(
            call.session, number, _administration(call), target, comment
        )
        return pb.UpdateTrackingStatusResponse(
            tracking=tracking_to_proto(tracking, Language(tracking.language))
        )


def _administration(call: Call) -> str:
    # Always set for an `administration()` RPC: the declaration refused the call otherwise.
    return call.administration or ""
