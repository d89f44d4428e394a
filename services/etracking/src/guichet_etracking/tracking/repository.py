"""Every query eTracking makes."""

from __future__ import annotations

from sqlalchemy import select
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


async def number_taken(session: AsyncSession, canonical: str) -> bool:
    found = await session.scalar(select(Tracking.id).where(Tracking.number == canonical))
    return found is not None
