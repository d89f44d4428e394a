"""What procedures publishes: its stream, its subjects, and the event payloads it builds.

Every event names the applicant (owner, who filed it, the request's language) so notifications
can tell them without calling back; a detached request (deleted account) has no owner.
"""

from __future__ import annotations

from datetime import datetime

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events_pb2
from guichet.events.v1 import procedures_pb2 as events_pb2
from guichet_procedures.requests.models import Request

SERVICE = "procedures"
STREAM = subjects.PROCEDURES
REQUEST_SUBMITTED = subjects.REQUEST_SUBMITTED
REQUEST_STATUS_CHANGED = subjects.REQUEST_STATUS_CHANGED
CORRECTION_ASKED = subjects.CORRECTION_ASKED
REQUEST_CANCELLED = subjects.REQUEST_CANCELLED
DRAFT_EXPIRING = subjects.DRAFT_EXPIRING
ACCOUNT_PURGED = subjects.account_purged(SERVICE)


def account_purged(deletion_id: str) -> identity_events_pb2.AccountPurged:
    return identity_events_pb2.AccountPurged(deletion_id=deletion_id, service=SERVICE)


def applicant(request: Request) -> events_pb2.RequestApplicant:
    return events_pb2.RequestApplicant(
        owner=request.owner or "", filed_by=request.created_by or "", language=request.language
    )


def title_in(request: Request) -> str:
    return request.title.get(request.language) or request.title.get("en", "")


def request_submitted(
    request: Request, *, resubmitted: bool, email: str = "", follow_up_url: str = ""
) -> events_pb2.RequestSubmitted:
    """`email` and `follow_up_url`: for a request filed without an account, what a notification
    needs to reach its applicant."""
    event = events_pb2.RequestSubmitted(
        request_id=str(request.id),
        reference=request.reference or "",
        procedure_code=request.procedure_code,
        procedure_version=request.procedure_version,
        administration=request.administration,
        status=request.status or "",
        answers_sha256=request.answers_sha256 or "",
        applicant=applicant(request),
        resubmitted=resubmitted,
        cursor=request.incoming_sequence or 0,
    )
    event.applicant.email = email
    event.applicant.follow_up_url = follow_up_url
    event.occurred_at.FromDatetime(request.updated_at)
    return event


def request_status_changed(
    request: Request,
    previous_status: str,
    *,
    notify: bool,
    status_text: str,
    comment: str,
    email: str = "",
) -> events_pb2.RequestStatusChanged:
    """For the administration's side: a status moved (`status_text` in the request's language);
    `email`: a request filed without an account's checked address, to tell its applicant."""
    event = events_pb2.RequestStatusChanged(
        request_id=str(request.id),
        reference=request.reference or "",
        procedure_code=request.procedure_code,
        administration=request.administration,
        previous_status=previous_status,
        status=request.status or "",
        notify=notify,
        status_text=status_text,
        comment=comment,
        applicant=applicant(request),
    )
    event.applicant.email = email
    event.occurred_at.FromDatetime(request.updated_at)
    return event


def correction_asked(
    request: Request, field_ids: list[str], message: str, *, email: str = ""
) -> events_pb2.CorrectionAsked:
    """`email` as for a status change."""
    event = events_pb2.CorrectionAsked(
        request_id=str(request.id),
        reference=request.reference or "",
        procedure_code=request.procedure_code,
        administration=request.administration,
        field_ids=field_ids,
        message=message,
        applicant=applicant(request),
    )
    event.applicant.email = email
    event.occurred_at.FromDatetime(request.updated_at)
    return event


def request_cancelled(request: Request) -> events_pb2.RequestCancelled:
    event = events_pb2.RequestCancelled(
        request_id=str(request.id),
        reference=request.reference or "",
        procedure_code=request.procedure_code,
        administration=request.administration,
        applicant=applicant(request),
    )
    event.occurred_at.FromDatetime(request.updated_at)
    return event


def draft_expiring(request: Request, now: datetime) -> events_pb2.DraftExpiring:
    event = events_pb2.DraftExpiring(
        request_id=str(request.id),
        procedure_code=request.procedure_code,
        title=title_in(request),
        applicant=applicant(request),
    )
    event.occurred_at.FromDatetime(now)
    if request.expires_at is not None:
        event.expires_at.FromDatetime(request.expires_at)
    return event
