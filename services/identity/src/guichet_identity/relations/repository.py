"""Every query on relations and on the audit of acts on behalf."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_identity.relations.models import CURRENT_PAIR, ActOnBehalf, Relation


class PairHasCurrentRelation(Exception):
    """Another transaction made a current relation for the same pair first."""


async def find(session: AsyncSession, relation_id: uuid.UUID) -> Relation | None:
    relation: Relation | None = await session.get(Relation, relation_id)
    return relation


async def find_involving(
    session: AsyncSession, relation_id: uuid.UUID, national_id: str, *, for_update: bool = False
) -> Relation | None:
    """The relation, only if `national_id` is its actor or its subject."""
    query = select(Relation).where(
        Relation.id == relation_id,
        or_(Relation.actor_national_id == national_id, Relation.subject_national_id == national_id),
    )
    if for_update:
        query = query.with_for_update()
    relation: Relation | None = await session.scalar(query)
    return relation


async def list_involving(session: AsyncSession, national_id: str) -> list[Relation]:
    rows = await session.scalars(
        select(Relation)
        .where(
            or_(
                Relation.actor_national_id == national_id,
                Relation.subject_national_id == national_id,
            )
        )
        .order_by(Relation.created_at.desc(), Relation.id)
    )
    return list(rows)


async def list_acting_for(session: AsyncSession, actor_national_id: str) -> list[Relation]:
    """The relations whose actor is `actor_national_id`, newest first."""
    rows = await session.scalars(
        select(Relation)
        .where(Relation.actor_national_id == actor_national_id)
        .order_by(Relation.created_at.desc(), Relation.id)
    )
    return list(rows)


async def find_active(
    session: AsyncSession, actor_national_id: str, subject_national_id: str, now: datetime
) -> Relation | None:
    relation: Relation | None = await session.scalar(
        select(Relation)
        .where(
            Relation.actor_national_id == actor_national_id,
            Relation.subject_national_id == subject_national_id,
            Relation.revoked_at.is_(None),
            Relation.expires_at > now,
        )
        .limit(1)
    )
    return relation


async def end_expired(
    session: AsyncSession, actor_national_id: str, subject_national_id: str, now: datetime
) -> None:
    """The pair's expired relations stop being current (at their expiry), making room for a new
    one; revoked ones already ended when they were revoked."""
    await session.execute(
        update(Relation)
        .where(
            Relation.actor_national_id == actor_national_id,
            Relation.subject_national_id == subject_national_id,
            Relation.ended_at.is_(None),
            Relation.expires_at <= now,
        )
        .values(ended_at=Relation.expires_at)
    )


def _violated_constraint(error: IntegrityError) -> str | None:
    # The driver's exception (asyncpg) names the constraint; SQLAlchemy wraps it.
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)
    return name if isinstance(name, str) else None


async def add_current(session: AsyncSession, relation: Relation) -> None:
    """Insert the pair's new current relation; PairHasCurrentRelation when a concurrent
    transaction committed one first (the unique index waits for it, then refuses)."""
    try:
        # A savepoint: the loser of the race is refused cleanly.
        async with session.begin_nested():
            session.add(relation)
    except IntegrityError as error:
        if _violated_constraint(error) == CURRENT_PAIR:
            raise PairHasCurrentRelation from error
        raise


async def delete_involving(session: AsyncSession, national_id: str) -> None:
    await session.execute(
        delete(Relation).where(
            or_(
                Relation.actor_national_id == national_id,
                Relation.subject_national_id == national_id,
            )
        )
    )


async def list_acts(session: AsyncSession, owner: str, limit: int) -> list[ActOnBehalf]:
    rows = await session.scalars(
        select(ActOnBehalf)
        .where(ActOnBehalf.owner == owner)
        .order_by(ActOnBehalf.occurred_at.desc(), ActOnBehalf.id.desc())
        .limit(limit)
    )
    return list(rows)


async def list_acts_by_actor(session: AsyncSession, actor_subject: str) -> list[ActOnBehalf]:
    rows = await session.scalars(
        select(ActOnBehalf)
        .where(ActOnBehalf.actor_subject == actor_subject)
        .order_by(ActOnBehalf.occurred_at.desc(), ActOnBehalf.id.desc())
    )
    return list(rows)


async def forget_acts_of(session: AsyncSession, owner: str, actor_subject: str) -> None:
    """The audit of acts on the person's behalf goes; acts they did for others stay in those
    others' audit (who acted, when, what), only unlinked from the deleted login."""
    await session.execute(delete(ActOnBehalf).where(ActOnBehalf.owner == owner))
    await session.execute(
        update(ActOnBehalf)
        .where(ActOnBehalf.actor_subject == actor_subject)
        .values(actor_subject="")
    )
