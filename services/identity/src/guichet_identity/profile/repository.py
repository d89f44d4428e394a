"""Every query on profiles and preferences."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from guichet_identity.profile.models import Preferences, Profile


async def find_by_subject(
    session: AsyncSession, subject: str, *, with_preferences: bool = False
) -> Profile | None:
    query = select(Profile).where(Profile.subject == subject)
    if with_preferences:
        query = query.options(selectinload(Profile.preferences))
    profile: Profile | None = await session.scalar(query)
    return profile


async def find_by_national_id(
    session: AsyncSession, national_id: str, *, with_preferences: bool = False
) -> Profile | None:
    query = select(Profile).where(Profile.national_id == national_id)
    if with_preferences:
        query = query.options(selectinload(Profile.preferences))
    profile: Profile | None = await session.scalar(query)
    return profile


async def names_by_national_id(
    session: AsyncSession, national_ids: Iterable[str]
) -> dict[str, str]:
    """The names of those among `national_ids` who have an account."""
    wanted = set(national_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Profile.national_id, Profile.first_name, Profile.last_name).where(
            Profile.national_id.in_(wanted)
        )
    )
    return {national_id: f"{first} {last}" for national_id, first, last in rows}


async def find_preferences(session: AsyncSession, subject: str) -> Preferences | None:
    preferences: Preferences | None = await session.scalar(
        select(Preferences).where(Preferences.subject == subject)
    )
    return preferences
