"""gRPC servicers: translate and validate requests, call the rules, translate the answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_etracking.tracking import service
from guichet_etracking.tracking.catalogue import PAPER_FORMS, UnknownPaperForm, find_paper_form
from guichet_etracking.tracking.contact import InvalidContact, Language, notification_choice
from guichet_etracking.tracking.number import (
    InvalidTrackingNumber,
    TrackingNumber,
    parse_tracking_number,
)
from guichet_etracking.tracking.sheet import render_tracking_sheet
from guichet_etracking.tracking.status import TransitionNotAllowed
from guichet_etracking.tracking.wire import (
    paper_form_to_proto,
    status_from_proto,
    tracking_to_proto,
)
from guichet_kit.auth import acting_context, authenticated, caller
from guichet_kit.db import transaction
from guichet_kit.errors import (
    FieldError,
    ServiceError,
    failed_precondition,
    invalid_argument,
    not_found,
    permission_denied,
    unauthenticated,
)
from guichet_kit.grpc_server import client_certificate_name
from guichet_kit.mandates import MandateChecker

Context = grpc.aio.ServicerContext[Any, Any]
MAX_COMMENT_LENGTH = 500


def _number(text: str) -> TrackingNumber:
    try:
        return parse_tracking_number(text)
    except InvalidTrackingNumber as error:
        raise invalid_argument(
            "INVALID_TRACKING_NUMBER",
            str(error),
            [FieldError("number", error.reason, str(error))],
        ) from error


def _language(text: str, default: Language = Language.FR) -> Language:
    if not text:
        return default
    try:
        return Language(text)
    except ValueError as error:
        raise invalid_argument(
            "INVALID_LANGUAGE",
            "language must be fr, de or en",
            [FieldError("language", "unsupported", "Choose fr, de or en.")],
        ) from error


def _not_found(number: TrackingNumber) -> ServiceError:
    return not_found("TRACKING_NOT_FOUND", f"no eTracking with number {number.display}")


class TrackingServicer(pb_grpc.TrackingServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        public_base_url: str,
        events_written: Callable[[], None],
        mandates: MandateChecker,
    ) -> None:
        self._sessions = sessions
        self._public_base_url = public_base_url.rstrip("/")
        self._events_written = events_written
        self._mandates = mandates

    async def ListPaperForms(
        self, request: pb.ListPaperFormsRequest, context: Context
    ) -> pb.ListPaperFormsResponse:
        language = _language(request.language)
        return pb.ListPaperFormsResponse(
            paper_forms=[paper_form_to_proto(form, language) for form in PAPER_FORMS]
        )

    async def CreateTracking(
        self, request: pb.CreateTrackingRequest, context: Context
    ) -> pb.CreateTrackingResponse:
        errors: list[FieldError] = []
        form = None
        try:
            form = find_paper_form(request.paper_form_code)
        except UnknownPaperForm as error:
            errors.append(FieldError("paper_form_code", "unknown", str(error)))
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
            errors.extend(FieldError(field, "invalid", message) for field, message in error.errors)
        if errors or form is None or choice is None:
            raise invalid_argument(
                "INVALID_TRACKING_REQUEST", "the tracking request is invalid", errors
            )
        # Signed in: the tracking goes to the space the caller acts for; else it is anonymous.
        principal = caller()
        owner = None
        if principal is not None:
            owner = await self._mandates.owner(
                principal, acting_context(), "etracking:write", act=f"eTracking of {form.code}"
            )
        async with transaction(self._sessions) as session:
            tracking = await service.create_tracking(session, form, choice, owner)
            reply = pb.CreateTrackingResponse(tracking=tracking_to_proto(tracking, choice.language))
        self._events_written()
        return reply

    async def ListMyTrackings(
        self, request: pb.ListMyTrackingsRequest, context: Context
    ) -> pb.ListMyTrackingsResponse:
        principal = authenticated()
        language = _language(request.language)
        acting = acting_context()
        # Reading someone else's trackings is an act on their behalf: it goes to their audit.
        act = "" if acting.kind == "private" else "listed the eTrackings"
        owner = await self._mandates.owner(principal, acting, "etracking:read", act=act)
        async with transaction(self._sessions) as session:
            trackings = await service.trackings_of(session, owner)
            return pb.ListMyTrackingsResponse(
                trackings=[tracking_to_proto(tracking, language) for tracking in trackings]
            )

    async def LookupTracking(
        self, request: pb.LookupTrackingRequest, context: Context
    ) -> pb.LookupTrackingResponse:
        number = _number(request.number)
        language = _language(request.language)
        async with transaction(self._sessions) as session:
            try:
                tracking = await service.find_tracking(session, number)
            except service.TrackingNotFound as error:
                raise _not_found(number) from error
            return pb.LookupTrackingResponse(tracking=tracking_to_proto(tracking, language))

    async def GetTrackingSheet(
        self, request: pb.GetTrackingSheetRequest, context: Context
    ) -> pb.GetTrackingSheetResponse:
        number = _number(request.number)
        async with transaction(self._sessions) as session:
            try:
                tracking = await service.find_tracking(session, number)
            except service.TrackingNotFound as error:
                raise _not_found(number) from error
        language = _language(request.language, Language(tracking.language))
        pdf = render_tracking_sheet(
            number,
            find_paper_form(tracking.paper_form_code),
            language,
            tracking.created_at,
            f"{self._public_base_url}/api/v1/etracking/trackings/{number.canonical}",
        )
        return pb.GetTrackingSheetResponse(pdf=pdf, filename=f"etracking-{number.canonical}.pdf")


def _administration(context: Context) -> str:
    name = client_certificate_name(context)
    if name is None:
        raise unauthenticated(
            "CLIENT_CERTIFICATE_REQUIRED",
            "administrations call this API over mutual TLS with their client certificate",
        )
    return name


class AdministrationServicer(pb_grpc.AdministrationTrackingServiceServicer):
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], events_written: Callable[[], None]
    ) -> None:
        self._sessions = sessions
        self._events_written = events_written

    async def ScanTracking(
        self, request: pb.ScanTrackingRequest, context: Context
    ) -> pb.ScanTrackingResponse:
        administration = _administration(context)
        number = _number(request.number)
        async with transaction(self._sessions) as session:
            with _refusals_to_statuses(number, administration):
                result = await service.scan(session, number, administration)
            reply = pb.ScanTrackingResponse(
                tracking=tracking_to_proto(result.tracking, Language(result.tracking.language)),
                already_received=result.already_received,
            )
        if not result.already_received:
            self._events_written()
        return reply

    async def UpdateTrackingStatus(
        self, request: pb.UpdateTrackingStatusRequest, context: Context
    ) -> pb.UpdateTrackingStatusResponse:
        administration = _administration(context)
        number = _number(request.number)
        errors: list[FieldError] = []
        target = status_from_proto(request.status)
        if target is None:
            errors.append(FieldError("status", "unspecified", "Give the new status."))
        if len(request.comment) > MAX_COMMENT_LENGTH:
            errors.append(
                FieldError("comment", "too_long", f"At most {MAX_COMMENT_LENGTH} characters.")
            )
        if errors or target is None:
            raise invalid_argument("INVALID_STATUS_UPDATE", "the status update is invalid", errors)
        async with transaction(self._sessions) as session:
            with _refusals_to_statuses(number, administration):
                tracking = await service.update_status(
                    session, number, administration, target, request.comment.strip()
                )
            reply = pb.UpdateTrackingStatusResponse(
                tracking=tracking_to_proto(tracking, Language(tracking.language))
            )
        self._events_written()
        return reply


@contextmanager
def _refusals_to_statuses(number: TrackingNumber, administration: str) -> Iterator[None]:
    """An administration's act refused by the rules, as the status its back office reads."""
    try:
        yield
    except service.TrackingNotFound as error:
        raise _not_found(number) from error
    except service.NotCompetent as error:
        raise _not_competent(number, administration) from error
    except TransitionNotAllowed as error:
        raise failed_precondition("TRANSITION_NOT_ALLOWED", str(error)) from error


def _not_competent(number: TrackingNumber, administration: str) -> ServiceError:
    return permission_denied(
        "NOT_COMPETENT", f"{administration} is not competent for eTracking {number.display}"
    )
