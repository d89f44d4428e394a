"""Every query on professional spaces and their collaborators."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from guichet_identity.spaces.models import Collaborator, Space


async def find(
    session: AsyncSession, space_id: uuid.UUID, *, for_update: bool = False
) -> Space | None:
    query = select(Space).where(Space.id == space_id).options(selectinload(Space.collaborators))
    if for_update:
        # Two administrators demoting each other at once must not leave the space without one.
        query = query.with_for_update(of=Space)
    space: Space | None = await session.scalar(query)
    return space


async def registry_number_taken(session: AsyncSession, registry_number: str) -> bool:
    found = await session.scalar(select(Space.id).where(Space.registry_number == registry_number))
    return found is not None


async def list_for(session: AsyncSession, national_id: str) -> list[Space]:
    """The spaces `national_id` collaborates in, with all their collaborators."""
    rows = await session.scalars(
        select(Space)
        .join(Collaborator, Collaborator.space_id == Space.id)
        .where(Collaborator.national_id == national_id)
        .options(selectinload(Space.collaborators))
        .order_by(Space.company_name, Space.id)
    )
    return list(rows)


async def memberships_of(
    session: AsyncSession, national_id: str
) -> list[tuple[uuid.UUID, str, str]]:
    """(space id, company name, role) of every space `national_id` collaborates in, by name; read
    in Core, as every /me asks it."""
    spaces, collaborators = Space.__table__.c, Collaborator.__table__.c
    rows = await session.execute(
        select(spaces.id, spaces.company_name, collaborators.role)
        .join(Collaborator.__table__, collaborators.space_id == spaces.id)
        .where(collaborators.national_id == national_id)
        .order_by(spaces.company_name, spaces.id)
    )
    return [(space_id, name, role) for space_id, name, role in rows]


async def find_collaborator(
    session: AsyncSession, space_id: uuid.UUID, national_id: str
) -> Collaborator | None:
    collaborator: Collaborator | None = await session.get(Collaborator, (space_id, national_id))
    return collaborator


async def delete_spaces(session: AsyncSession, space_ids: list[uuid.UUID]) -> None:
    if space_ids:
        await session.execute(delete(Space).where(Space.id.in_(space_ids)))
