"""Every query eTracking makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from guichet_etracking.tracking.models import Tracking, TrackingStatusChange


async def find_by_number(
    session: AsyncSession, canonical: str, *, for_update: bool = False
) -> Tracking | None:
    query = (
        select(Tracking).where(Tracking.number == canonical).options(selectinload(Tracking.history))
    )
    if for_update:
        # Two administrations' clerks scanning at once must not both move the status.
        query = query.with_for_update(of=Tracking)
    tracking: Tracking | None = await session.scalar(query)
    return tracking


@dataclass(frozen=True, slots=True)
class StatusChangeView:
    status: str
    changed_by: str
    comment: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class TrackingView:
    """What the read paths show of a tracking, read without loading ORM entities."""

    number: str
    paper_form_code: str
    status: str
    language: str
    owner: str | None
    created_at: datetime
    history: list[StatusChangeView]


# One round trip for a tracking and its history: the public lookup is the hot read path, and
# loading entities through the ORM cost more than the queries themselves.
_changes = TrackingStatusChange.__table__.c
_VIEW = (
    select(
        Tracking.number,
        Tracking.paper_form_code,
        Tracking.status,
        Tracking.language,
        Tracking.owner,
        Tracking.created_at,
        *(
            func.array_agg(aggregate_order_by(column, _changes.id)).label(column.name)
            for column in (_changes.status, _changes.changed_by, _changes.comment)
        ),
        func.array_agg(aggregate_order_by(_changes.occurred_at, _changes.id)).label("times"),
    )
    .join(TrackingStatusChange.__table__, _changes.tracking_id == Tracking.id)
    .group_by(Tracking.id)
)


def _view(row: Any) -> TrackingView:
    history = [
        StatusChangeView(*change)
        for change in zip(row.status_1, row.changed_by, row.comment, row.times, strict=True)
    ]
    return TrackingView(
        row.number,
        row.paper_form_code,
        row.status,
        row.language,
        row.owner,
        row.created_at,
        history,
    )


async def view_by_number(session: AsyncSession, canonical: str) -> TrackingView | None:
    row = (await session.execute(_VIEW.where(Tracking.number == canonical))).first()
    return _view(row) if row is not None else None


async def views_owned_by(session: AsyncSession, owner: str) -> list[TrackingView]:
    rows = await session.execute(
        _VIEW.where(Tracking.owner == owner).order_by(Tracking.updated_at.desc())
    )
    return [_view(row) for row in rows]


async def delete_owned_by(session: AsyncSession, owner: str) -> int:
    result = await session.execute(delete(Tracking).where(Tracking.owner == owner))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def forget_creator(session: AsyncSession, creator: str) -> int:
    """Remove a creator's contact data from the trackings they made for someone else."""
    result = await session.execute(
        update(Tracking)
        .where(Tracking.created_by == creator)
        .values(email=None, phone=None, created_by=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def number_taken(session: AsyncSession, canonical: str) -> bool:
    found = await session.scalar(select(Tracking.id).where(Tracking.number == canonical))
    return found is not None
