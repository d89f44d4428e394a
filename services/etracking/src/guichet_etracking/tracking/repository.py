"""Every query eTracking makes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, asyncpg
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


# One round trip for a tracking and its history, in Core (no ORM entities): the public lookup is
# the hot read path. The statement is compiled once for asyncpg and run as a prepared statement on
# the session's own connection: building and caching a statement per call cost more than the query.
_trackings = Tracking.__table__.c
_changes = TrackingStatusChange.__table__.c
_VIEW = (
    select(
        _trackings.number,
        _trackings.paper_form_code,
        _trackings.status,
        _trackings.language,
        _trackings.owner,
        _trackings.created_at,
        *(
            func.array_agg(aggregate_order_by(column, _changes.id)).label(label)
            for column, label in (
                (_changes.status, "statuses"),
                (_changes.changed_by, "changers"),
                (_changes.comment, "comments"),
                (_changes.occurred_at, "times"),
            )
        ),
    )
    .join(TrackingStatusChange.__table__, _changes.tracking_id == _trackings.id)
    .group_by(_trackings.id)
)
_VIEW_BY_NUMBER = str(
    _VIEW.where(_trackings.number == bindparam("number")).compile(
        dialect=asyncpg.dialect()  # type: ignore[no-untyped-call]
    )
)


def _view(row: Any) -> TrackingView:
    history = [
        StatusChangeView(*change)
        for change in zip(
            row["statuses"], row["changers"], row["comments"], row["times"], strict=True
        )
    ]
    return TrackingView(
        row["number"],
        row["paper_form_code"],
        row["status"],
        row["language"],
        row["owner"],
        row["created_at"],
        history,
    )


async def view_by_number(session: AsyncSession, canonical: str) -> TrackingView | None:
    connection = await (await session.connection()).get_raw_connection()
    driver: Any = connection.driver_connection  # asyncpg's own connection
    row = await driver.fetchrow(_VIEW_BY_NUMBER, canonical)
    return _view(row) if row is not None else None


async def views_owned_by(session: AsyncSession, owner: str) -> list[TrackingView]:
    rows = await session.execute(
        _VIEW.where(_trackings.owner == owner).order_by(_trackings.updated_at.desc())
    )
    return [_view(row._mapping) for row in rows]


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
