"""/api/v1/etracking: choose a paper form, opt in to tracking, look it up, print its sheet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet_gateway.altcha import (
    PAYLOAD_DESCRIPTION,
    ChallengesDep,
    PayloadField,
    require_solved,
)
from guichet_gateway.deps import (
    Calls,
    CurrentUser,
    LanguageDep,
    OptionalUser,
    acts_in_context,
    limit_anonymous_creations,
    rate_limit,
)
from guichet_gateway.fields import (
    TRACKING_NUMBER_EXAMPLE,
    Flag,
    OptionalEmailText,
    PaperFormCode,
    PhoneText,
    TrackingNumberPath,
)
from guichet_gateway.openapi import refusals
from guichet_gateway.ratelimit import LOOKUPS
from guichet_gateway.wire import as_dict, enum_word
from guichet_kit.i18n import Language

router = APIRouter(prefix="/api/v1/etracking", tags=["etracking"])


class PaperFormOut(BaseModel):
    code: str
    administration: str
    title: str


class StatusChangeOut(BaseModel):
    status: str
    status_label: str
    occurred_at: datetime


class TrackingOut(BaseModel):
    number: str = Field(
        examples=[TRACKING_NUMBER_EXAMPLE], json_schema_extra={"x-value-type": "tracking-number"}
    )
    paper_form: PaperFormOut
    status: str
    status_label: str
    history: list[StatusChangeOut]
    created_at: datetime
    sheet_url: str


class CreateTrackingIn(BaseModel):
    paper_form_code: PaperFormCode
    notify_by_email: Flag = False
    email: OptionalEmailText | None = Field(
        None, description="Needed with notify_by_email, else none."
    )
    notify_by_sms: Flag = False
    phone: PhoneText | None = Field(None, description="A mobile number, with notify_by_sms.")
    language: Language = Field(Language.FR, description="Of the notifications and the sheet")
    altcha: PayloadField | None = Field(
        None, description="Without a sign-in: needed. " + PAYLOAD_DESCRIPTION
    )


NumberPath = Annotated[TrackingNumberPath, Path()]
LOOKUP_REFUSALS = refusals(
    {
        404: "No eTracking has this number (TRACKING_NOT_FOUND).",
        422: "A mistyped number (INVALID_TRACKING_NUMBER: `errors` says which check failed).",
    }
)


def _status_name(value: pb.TrackingStatus.ValueType) -> str:
    return enum_word(pb.TrackingStatus.Name(value), "TRACKING_STATUS_")


def _tracking_out(tracking: pb.Tracking, request: Request) -> TrackingOut:
    compact = tracking.number.replace("-", "")
    return TrackingOut(
        number=tracking.number,
        paper_form=PaperFormOut(**as_dict(tracking.paper_form)),
        status=_status_name(tracking.status),
        status_label=tracking.status_label,
        history=[
            StatusChangeOut(
                status=_status_name(change.status),
                status_label=change.status_label,
                occurred_at=change.occurred_at.ToDatetime(tzinfo=UTC),
            )
            for change in tracking.history
        ],
        created_at=tracking.created_at.ToDatetime(tzinfo=UTC),
        sheet_url=str(request.url_for("get_tracking_sheet", number=compact)),
    )


@router.get("/paper-forms", response_model=list[PaperFormOut])
async def list_paper_forms(calls: Calls, language: LanguageDep) -> list[PaperFormOut]:
    """The paper forms that can be tracked, titled in the caller's language."""
    reply = await calls.etracking.ListPaperForms(pb.ListPaperFormsRequest(language=language))
    return [
        PaperFormOut(code=f.code, administration=f.administration, title=f.title)
        for f in reply.paper_forms
    ]


@router.post(
    "/trackings",
    status_code=201,
    response_model=TrackingOut,
    dependencies=[acts_in_context, limit_anonymous_creations],
    responses={
        201: {
            "description": "Created; `Location` is its public lookup",
            "headers": {
                "Location": {
                    "description": "The public lookup of the new eTracking",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        }
    },
)
async def create_tracking(
    body: CreateTrackingIn,
    calls: Calls,
    request: Request,
    response: Response,
    user: OptionalUser,
    challenges: ChallengesDep,
) -> TrackingOut:
    """Opt a paper form in to tracking, by e-mail and/or SMS; returns its eTracking number.

    Signed in, the tracking is also listed in the space of the acting context
    (`X-Acting-Context`: private, company:<id> or relation:<id>). Refused with 422
    (INVALID_TRACKING_REQUEST) when the paper form is unknown or a chosen channel lacks its
    address. Without a sign-in, `altcha` must hold a solved anti-robot challenge (422
    ANTI_ROBOT_CHECK_FAILED otherwise).
    """
    if user is None:
        await require_solved(challenges, body.altcha)
    reply = await calls.etracking.CreateTracking(
        pb.CreateTrackingRequest(
            paper_form_code=body.paper_form_code,
            notify_by_email=body.notify_by_email,
            email=body.email or "",
            notify_by_sms=body.notify_by_sms,
            phone=body.phone or "",
            language=body.language,
        )
    )
    out = _tracking_out(reply.tracking, request)
    response.headers["Location"] = str(
        request.url_for("lookup_tracking", number=out.number.replace("-", ""))
    )
    return out


@router.get("/trackings", response_model=list[TrackingOut], dependencies=[acts_in_context])
async def list_my_trackings(
    calls: Calls, language: LanguageDep, request: Request, user: CurrentUser
) -> list[TrackingOut]:
    """The trackings created in the caller's acting context (their space)."""
    reply = await calls.etracking.ListMyTrackings(pb.ListMyTrackingsRequest(language=language))
    return [_tracking_out(tracking, request) for tracking in reply.trackings]


@router.get(
    "/trackings/{number}",
    response_model=TrackingOut,
    dependencies=[rate_limit(LOOKUPS)],
    responses=LOOKUP_REFUSALS,
)
async def lookup_tracking(
    number: NumberPath, calls: Calls, language: LanguageDep, request: Request
) -> TrackingOut:
    """Public lookup by eTracking number: the form, its status and history, nothing personal."""
    reply = await calls.etracking.LookupTracking(
        pb.LookupTrackingRequest(number=number, language=language)
    )
    return _tracking_out(reply.tracking, request)


@router.get(
    "/trackings/{number}/sheet",
    response_class=Response,
    dependencies=[rate_limit(LOOKUPS)],
    responses={
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The printable sheet",
        },
        **LOOKUP_REFUSALS,
    },
)
async def get_tracking_sheet(
    number: NumberPath,
    calls: Calls,
    lang: Annotated[
        Language | None, Query(description="Sheet language; default: the tracking's")
    ] = None,
) -> Response:
    """The printable eTracking sheet (PDF) to join to the paper form."""
    reply = await calls.etracking.GetTrackingSheet(
        pb.GetTrackingSheetRequest(number=number, language=lang or "")
    )
    return Response(
        reply.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{reply.filename}"'},
    )
