"""Every query eTracking makes."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from guichet_etracking.tracking.models import Tracking


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


async def owned_by(session: AsyncSession, owner: str) -> list[Tracking]:
    trackings = await session.scalars(
        select(Tracking)
        .where(Tracking.owner == owner)
        .options(selectinload(Tracking.history))
        .order_by(Tracking.updated_at.desc())
    )
    return list(trackings)


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
