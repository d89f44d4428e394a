"""eTracking's rules: creating a tracking, and an administration moving it along."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from guichet_etracking.tracking import events, repository
from guichet_etracking.tracking.catalogue import PaperForm
from guichet_etracking.tracking.contact import NotificationChoice
from guichet_etracking.tracking.models import Tracking, TrackingStatusChange
from guichet_etracking.tracking.number import TrackingNumber, generate_tracking_number
from guichet_etracking.tracking.repository import TrackingView
from guichet_etracking.tracking.status import TrackingStatus, check_transition
from guichet_kit.domain import Forbidden, NotFound
from guichet_kit.i18n import Catalog
from guichet_kit.outbox import add_event

_ = Catalog("guichet_etracking")

APPLICANT = "applicant"


class TrackingNotFound(NotFound):
    def __init__(self, number: TrackingNumber) -> None:
        super().__init__(
            "TRACKING_NOT_FOUND", _("No eTracking has the number {number}.", number=number.display)
        )


class NotCompetent(Forbidden):
    """The administration tried to act on a paper form of another administration."""

    def __init__(self, number: TrackingNumber, administration: str) -> None:
        super().__init__(
            "NOT_COMPETENT",
            _(
                "{administration} is not competent for eTracking {number}.",
                administration=administration,
                number=number.display,
            ),
        )


@dataclass(frozen=True)
class ScanResult:
    tracking: Tracking
    already_received: bool


async def _free_number(session: AsyncSession) -> TrackingNumber:
    # About 2^40 numbers: a clash is rare, and the unique constraint still guards a race.
    while True:
        number = generate_tracking_number()
        if not await repository.number_taken(session, number.canonical):
            return number


async def create_tracking(
    session: AsyncSession,
    form: PaperForm,
    choice: NotificationChoice,
    owner: str | None = None,
    created_by: str | None = None,
) -> Tracking:
    now = datetime.now(UTC)
    number = await _free_number(session)
    tracking = Tracking(
        number=number.canonical,
        paper_form_code=form.code,
        administration=form.administration.value,
        status=TrackingStatus.AWAITING_PAPER_FORM.value,
        owner=owner,
        created_by=created_by,
        email=choice.email,
        phone=choice.phone,
        language=choice.language.value,
        created_at=now,
        updated_at=now,
        history=[
            TrackingStatusChange(
                status=TrackingStatus.AWAITING_PAPER_FORM.value,
                changed_by=APPLICANT,
                comment="",
                occurred_at=now,
            )
        ],
    )
    session.add(tracking)
    await session.flush()
    add_event(session, events.TRACKING_CREATED, events.tracking_created(tracking))
    return tracking


async def trackings_of(session: AsyncSession, owner: str) -> list[TrackingView]:
    return await repository.views_owned_by(session, owner)


async def purge_account(session: AsyncSession, deletion_id: str, national_id: str) -> int:
    """F8: remove every tracking of a deleted account and the contact data it left on trackings
    it made for a child or a company, and say so in the same transaction."""
    person = f"person:{national_id}"
    removed = await repository.delete_owned_by(session, person)
    await repository.forget_creator(session, person)
    add_event(session, events.ACCOUNT_PURGED, events.account_purged(deletion_id))
    return removed


async def find_tracking(session: AsyncSession, number: TrackingNumber) -> TrackingView:
    tracking = await repository.view_by_number(session, number.canonical)
    if tracking is None:
        raise TrackingNotFound(number)
    return tracking


async def _competent_tracking(
    session: AsyncSession, number: TrackingNumber, administration: str
) -> Tracking:
    tracking = await repository.find_by_number(session, number.canonical, for_update=True)
    if tracking is None:
        raise TrackingNotFound(number)
    if tracking.administration != administration:
        raise NotCompetent(number, administration)
    return tracking


def _move(tracking: Tracking, target: TrackingStatus, administration: str, comment: str) -> None:
    now = datetime.now(UTC)
    tracking.status = target.value
    tracking.updated_at = now
    tracking.history.append(
        TrackingStatusChange(
            status=target.value, changed_by=administration, comment=comment, occurred_at=now
        )
    )


def _apply(
    session: AsyncSession,
    tracking: Tracking,
    administration: str,
    target: TrackingStatus,
    comment: str,
) -> None:
    previous = TrackingStatus(tracking.status)
    check_transition(previous, target)
    _move(tracking, target, administration, comment)
    add_event(
        session,
        events.TRACKING_STATUS_CHANGED,
        events.tracking_status_changed(tracking, previous, comment),
    )


async def update_status(
    session: AsyncSession,
    number: TrackingNumber,
    administration: str,
    target: TrackingStatus,
    comment: str,
) -> Tracking:
    tracking = await _competent_tracking(session, number, administration)
    _apply(session, tracking, administration, target, comment)
    return tracking


async def scan(session: AsyncSession, number: TrackingNumber, administration: str) -> ScanResult:
    """Mark the paper form received; scanning the same sheet again changes nothing."""
    tracking = await _competent_tracking(session, number, administration)
    current = TrackingStatus(tracking.status)
    if current not in (TrackingStatus.AWAITING_PAPER_FORM, TrackingStatus.WITHDRAWN):
        return ScanResult(tracking, already_received=True)
    _apply(session, tracking, administration, TrackingStatus.RECEIVED, "")
    return ScanResult(tracking, already_received=False)
