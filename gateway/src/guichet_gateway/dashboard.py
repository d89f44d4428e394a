"""/api/v1/dashboard: the signed-in person's dashboard in one call (F80), with the news (F81).

The sections that need a service are read concurrently, each under its own deadline
(`GATEWAY_DASHBOARD_SECTION_DEADLINE_SECONDS`): a service that is down, fails or answers late
leaves its own section `unavailable` and the rest is answered. The dashboard page
(`web/dashboard_page.py`) shows the same `read_dashboard`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeVar

import grpc
import structlog
from fastapi import APIRouter, Request
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter
from pydantic import BaseModel, Field

from guichet.etracking.v1 import etracking_pb2 as etracking_pb
from guichet.identity.v1 import identity_pb2 as identity_pb
from guichet.procedures.v1 import procedures_pb2 as procedures_pb
from guichet.wallet.v1 import wallet_pb2 as wallet_pb
from guichet_gateway.deps import Calls, CurrentUser, LanguageDep, ServiceStubs, acts_in_context
from guichet_gateway.etracking import PaperFormOut
from guichet_gateway.procedures import RequestSummaryOut, list_requests, request_summary_out
from guichet_gateway.relations import RelationOut, relation_out
from guichet_gateway.settings import GatewaySettings
from guichet_gateway.web.news import NewsView, news_for
from guichet_gateway.wire import enum_word, timestamp
from guichet_kit.auth import PRIVATE, Principal, acting_context, set_caller
from guichet_kit.errors import read_rpc_failure
from guichet_kit.i18n import LUXEMBOURG, Catalog, Language

log = structlog.get_logger(__name__)
_ = Catalog("guichet_gateway")

router = APIRouter(prefix="/api/v1", tags=["dashboard"])

# As the seeds' dashboards: the latest few of each kind, with a link to all of them.
LATEST = 4
# A document expiring within this many days is "expiring soon" (the wallet's notice comes as many
# days before: WALLET_EXPIRY_NOTICE_DAYS).
EXPIRING_SOON_DAYS = 30
# A service's deliberate refusal about the caller (bad token, no mandate for the acting context,
# a malformed context) is the whole answer's, as on every route; anything else is the section's.
_THE_CALLERS = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
}
_UNAVAILABLE_REASONS = {
    grpc.StatusCode.UNAVAILABLE: "DEPENDENCY_UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DEPENDENCY_TIMEOUT",
}

T = TypeVar("T")

SECTIONS_UNAVAILABLE = Counter(
    "guichet_dashboard_sections_unavailable_total",
    "Dashboard sections answered unavailable (their service down, failing or late)",
    ["section", "reason"],
)


class Section(BaseModel):
    status: Literal["available", "unavailable"] = Field(
        description="`unavailable` when the service holding it is down, failed or did not answer "
        "within the dashboard's deadline; the other sections are answered all the same."
    )
    reason: str | None = Field(
        None,
        description="When unavailable: DEPENDENCY_UNAVAILABLE, DEPENDENCY_TIMEOUT or "
        "UPSTREAM_FAILED (MANDATE_REFUSED for the documents of someone whose mandate does not "
        "cover them)",
    )
    message: str | None = Field(
        None, description="When unavailable: what to tell the person, in the caller's language"
    )


class NotYetOfferedSection(Section):
    """A section whose service the platform does not have yet: always available and empty."""

    offered: Literal[False] = Field(
        False, description="False: the platform does not offer this yet; nothing is invented"
    )
    items: list[dict[str, Any]] = Field(default_factory=list, max_length=0)
    total: int = Field(0, ge=0, le=0)


class TrackingSummaryOut(BaseModel):
    number: str
    paper_form: PaperFormOut
    status: str
    status_label: str
    created_at: datetime
    updated_at: datetime = Field(description="When its status last changed")


class TrackingsSection(Section):
    offered: Literal[True] = True
    items: list[TrackingSummaryOut] = Field(
        default_factory=list, description=f"The latest {LATEST} changed, newest first"
    )
    total: int = Field(0, description="How many in the acting context in all")


class MandatesSection(Section):
    offered: Literal[True] = True
    items: list[RelationOut] = Field(
        default_factory=list, description=f"The latest {LATEST} granted, newest first"
    )
    total: int = Field(0, description="How many are in force in all")


class PieceSummaryOut(BaseModel):
    piece_id: str
    title: str
    type: str = Field(description="The piece's type, named in the caller's language")
    expires_on: date | None
    expiring_soon: bool = Field(
        description=f"Expired, or expiring within {EXPIRING_SOON_DAYS} days"
    )
    updated_at: datetime | None


class DocumentsSection(Section):
    offered: Literal[True] = True
    items: list[PieceSummaryOut] = Field(
        default_factory=list, description=f"The latest {LATEST} changed, newest first"
    )
    total: int = Field(0, description="How many pieces the acting context's wallet holds")
    max_pieces: int = Field(0, description="The most it may hold")
    expiring_soon: int = Field(
        0, description=f"How many are expired or expire within {EXPIRING_SOON_DAYS} days"
    )


class RequestsSection(Section):
    offered: Literal[True] = True
    items: list[RequestSummaryOut] = Field(
        default_factory=list, description=f"The latest {LATEST} changed, newest first"
    )
    total: int = Field(0, description="How many drafts and requests, the archive aside")


class NewsOut(BaseModel):
    id: str
    kind: Literal["news", "practical"]
    audience: Literal["public", "private"]
    category: str
    category_name: str
    published: date
    title: str
    paragraphs: list[str]


class NewsSection(Section):
    offered: Literal[True] = True
    items: list[NewsOut] = Field(default_factory=list, description="Newest first")
    total: int = 0


class DashboardOut(BaseModel):
    acting_context: str = Field(description="The context the eTrackings section was read in")
    requests: RequestsSection = Field(
        description="The acting context's latest drafts and requests with their status (as GET "
        "/api/v1/me/requests). Acting for someone whose mandate does not cover them "
        "(procedures:read), the section is unavailable with the reason MANDATE_REFUSED"
    )
    documents: DocumentsSection = Field(
        description="The documents of the acting context's wallet (as GET "
        "/api/v1/wallet/pieces): how many, how many expire soon, the latest changed. Acting "
        "for someone whose mandate does not cover their documents (wallet:read), the section "
        "is unavailable with the reason MANDATE_REFUSED; the rest is answered"
    )
    data: NotYetOfferedSection = Field(
        description="Data held by the administrations: empty until the platform reads them"
    )
    unread_exchanges: NotYetOfferedSection = Field(
        description="Unread exchanges with the administrations: empty until exchanges open"
    )
    etrackings: TrackingsSection = Field(
        description="The eTrackings of the acting context (as GET /api/v1/etracking/trackings)"
    )
    mandates: MandatesSection = Field(
        description="The mandates in force that let the signed-in person act for someone else "
        "(a person or a declared child), whatever the acting context: identity has no pending "
        "state (a mandate is in force from its grant), so these are what the person may act on"
    )
    news: NewsSection = Field(
        description="News and practical information, private items included (signed in)"
    )


def _moment(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _tracking_summary(tracking: etracking_pb.Tracking) -> TrackingSummaryOut:
    changes = [_moment(change.occurred_at) for change in tracking.history]
    created_at = _moment(tracking.created_at)
    return TrackingSummaryOut(
        number=tracking.number,
        paper_form=PaperFormOut(
            code=tracking.paper_form.code,
            administration=tracking.paper_form.administration,
            title=tracking.paper_form.title,
        ),
        status=enum_word(etracking_pb.TrackingStatus.Name(tracking.status), "TRACKING_STATUS_"),
        status_label=tracking.status_label,
        created_at=created_at,
        updated_at=max(changes, default=created_at),
    )


def _news_out(view: NewsView) -> NewsOut:
    return NewsOut(
        id=view.id,
        kind=view.kind,
        audience=view.audience,
        category=view.category,
        category_name=view.category_name,
        published=view.published,
        title=view.title,
        paragraphs=list(view.paragraphs),
    )


def _documents(reply: wallet_pb.ListPiecesResponse, today: date) -> DocumentsSection:
    soon = today + timedelta(days=EXPIRING_SOON_DAYS)
    summaries = []
    for piece in reply.pieces:
        try:
            expires = date.fromisoformat(piece.expires_on) if piece.expires_on else None
        except ValueError:
            expires = None
        summaries.append(
            PieceSummaryOut(
                piece_id=piece.piece_id,
                title=piece.title,
                type=piece.type.name or piece.type.code,
                expires_on=expires,
                expiring_soon=expires is not None and expires <= soon,
                updated_at=timestamp(piece.updated_at) or timestamp(piece.created_at),
            )
        )
    latest = sorted(
        summaries, key=lambda p: p.updated_at or datetime.min.replace(tzinfo=UTC), reverse=True
    )
    return DocumentsSection(
        status="available",
        items=latest[:LATEST],
        total=len(summaries),
        max_pieces=reply.max_pieces,
        expiring_soon=sum(1 for p in summaries if p.expiring_soon),
    )


class _Unavailable:
    def __init__(self, reason: str) -> None:
        self.reason = reason


async def _within(
    section: str, deadline: float, read: Callable[[], Awaitable[T]]
) -> T | _Unavailable:
    """`read()` if it answers within `deadline` seconds; else why its section is unavailable."""
    try:
        async with asyncio.timeout(deadline):
            return await read()
    except TimeoutError:
        reason = "DEPENDENCY_TIMEOUT"
    except grpc.aio.AioRpcError as error:
        failure = read_rpc_failure(error)
        if failure.code in _THE_CALLERS and failure.reason != failure.code.name:
            raise  # a refusal the service gave on purpose, answered as on any route
        reason = _UNAVAILABLE_REASONS.get(failure.code, "UPSTREAM_FAILED")
    log.warning("gateway.dashboard_section_unavailable", section=section, reason=reason)
    SECTIONS_UNAVAILABLE.labels(section, reason).inc()
    return _Unavailable(reason)


def _unavailable_fields(reason: str, language: Language) -> dict[str, Any]:
    message = _("This section is temporarily unavailable. Please try again in a few minutes.")
    if reason == "MANDATE_REFUSED":
        message = _("Your mandate in this context does not cover this section.")
    return {"status": "unavailable", "reason": reason, "message": message.render(language)}


async def read_dashboard(
    stubs: ServiceStubs, principal: Principal, language: Language, deadline: float
) -> DashboardOut:
    """Every section of `principal`'s dashboard; the caller is set for this request already
    (the API's token or the page's session)."""
    context = acting_context()

    async def trackings() -> etracking_pb.ListMyTrackingsResponse:
        return await stubs.etracking.ListMyTrackings(
            etracking_pb.ListMyTrackingsRequest(language=language), timeout=deadline
        )

    async def pieces() -> wallet_pb.ListPiecesResponse | _Unavailable:
        try:
            return await stubs.wallet.ListPieces(wallet_pb.ListPiecesRequest(), timeout=deadline)
        except grpc.aio.AioRpcError as error:
            # A mandate that does not open the documents leaves their section out, not the rest.
            if error.code() == grpc.StatusCode.PERMISSION_DENIED:
                return _Unavailable("MANDATE_REFUSED")
            raise

    async def requests() -> procedures_pb.ListMyRequestsResponse | _Unavailable:
        try:
            return await list_requests(stubs, language, page_size=LATEST, deadline=deadline)
        except grpc.aio.AioRpcError as error:
            # As the documents: a mandate that does not open them leaves their section out.
            if error.code() == grpc.StatusCode.PERMISSION_DENIED:
                return _Unavailable("MANDATE_REFUSED")
            raise

    async def relations() -> identity_pb.ListRelationsResponse:
        # The person's own mandates: read in their private context (this task's copy of it).
        set_caller(principal, PRIVATE)
        return await stubs.relations.ListRelations(
            identity_pb.ListRelationsRequest(), timeout=deadline
        )

    # Each read is a task of its own, with a copy of the request's context (caller, language).
    tracked, related, kept, filed = await asyncio.gather(
        _within("etrackings", deadline, trackings),
        _within("mandates", deadline, relations),
        _within("documents", deadline, pieces),
        _within("requests", deadline, requests),
        return_exceptions=True,
    )
    for outcome in (tracked, related, kept, filed):
        if isinstance(outcome, BaseException):
            raise outcome

    if isinstance(tracked, _Unavailable):
        etrackings = TrackingsSection(**_unavailable_fields(tracked.reason, language))
    else:
        assert isinstance(tracked, etracking_pb.ListMyTrackingsResponse)
        summaries = sorted(
            (_tracking_summary(t) for t in tracked.trackings),
            key=lambda t: t.updated_at,
            reverse=True,
        )
        etrackings = TrackingsSection(
            status="available", items=summaries[:LATEST], total=len(summaries)
        )

    if isinstance(related, _Unavailable):
        mandates = MandatesSection(**_unavailable_fields(related.reason, language))
    else:
        assert isinstance(related, identity_pb.ListRelationsResponse)
        now = datetime.now(UTC)
        in_force = [
            relation_out(r)
            for r in related.acting_for
            if not r.revoked and not (r.expires_at.seconds and _moment(r.expires_at) <= now)
        ]
        mandates = MandatesSection(status="available", items=in_force[:LATEST], total=len(in_force))

    if isinstance(kept, _Unavailable):
        documents = DocumentsSection(**_unavailable_fields(kept.reason, language))
    else:
        assert isinstance(kept, wallet_pb.ListPiecesResponse)
        documents = _documents(kept, datetime.now(LUXEMBOURG).date())

    if isinstance(filed, _Unavailable):
        latest_requests = RequestsSection(**_unavailable_fields(filed.reason, language))
    else:
        assert isinstance(filed, procedures_pb.ListMyRequestsResponse)
        latest_requests = RequestsSection(
            status="available",
            items=[request_summary_out(r) for r in filed.requests],
            total=filed.total,
        )

    news = [_news_out(view) for view in news_for(language, signed_in=True)]
    return DashboardOut(
        acting_context=str(context),
        requests=latest_requests,
        documents=documents,
        data=NotYetOfferedSection(status="available"),
        unread_exchanges=NotYetOfferedSection(status="available"),
        etrackings=etrackings,
        mandates=mandates,
        news=NewsSection(status="available", items=news, total=len(news)),
    )


def section_deadline(request: Request) -> float:
    settings: GatewaySettings = request.app.state.settings
    return settings.dashboard_section_deadline_seconds


@router.get("/dashboard", response_model=DashboardOut, dependencies=[acts_in_context])
async def get_dashboard(
    calls: Calls, user: CurrentUser, language: LanguageDep, request: Request
) -> DashboardOut:
    """The signed-in person's dashboard in one call: the acting context's latest drafts and
    requests, the documents of its wallet (how many, how many expire soon) and its latest
    eTrackings; data and unread exchanges (empty, `offered: false`, until the platform has
    those services); the mandates in force that let them act for others, and the news and
    practical information (private items included).

    Each section that needs a service is read concurrently under its own deadline; a service
    that is down, fails or answers late makes its section `"status": "unavailable"` (with a
    `message` in the caller's language) while the others are answered with 200. A refusal about
    the caller (e.g. no mandate for the acting context) is answered as on any other route."""
    return await read_dashboard(calls, user, language, section_deadline(request))
