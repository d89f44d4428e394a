"""One current relation per (actor, subject), decided by the database: two grants made at once
cannot both pass; an expired or revoked relation makes room for a new one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet_identity.authentic_data import AuthenticDataRegisters
from guichet_identity.relations.grpc import RelationServicer
from guichet_identity.relations.models import Relation
from guichet_kit.auth import set_caller
from guichet_kit.errors import ServiceError
from guichet_testkit.eventually import wait_until

from ..conftest import FakeClock, InRegisters, NewPerson, Person

NO_CONTEXT: Any = None


@pytest.fixture
def relations(
    identity_sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    registers: AuthenticDataRegisters,
) -> RelationServicer:
    return RelationServicer(identity_sessions, clock=clock, registers=registers)


def _grant_request(clock: FakeClock, actor: Person, hours: int = 1) -> pb.GrantMandateRequest:
    expires_at = Timestamp()
    expires_at.FromDatetime(clock.now + timedelta(hours=hours))
    return pb.GrantMandateRequest(
        actor_national_id=actor.national_id,
        kind=pb.RELATION_KIND_SPOUSE,
        rights=["etracking:read"],
        expires_at=expires_at,
    )


@pytest.fixture
async def writes_held(
    identity_sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Holds every write to `relations` (reads pass) until the returned wait has seen `n`
    transactions blocked on it: each of them has passed its checks before any writes."""
    async with identity_sessions() as holder:
        await holder.execute(text("LOCK TABLE relations IN SHARE MODE"))

        async def release_when_waiting(n: int) -> None:
            async def waiting() -> bool:
                async with identity_sessions() as watcher:
                    count = await watcher.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                return count == n

            await wait_until(waiting, seconds=30, what=f"{n} transactions waiting on relations")
            await holder.rollback()

        yield release_when_waiting


async def _outcome(call: Awaitable[Any]) -> str:
    """ "granted", or the refusal as "<code> <reason>"."""
    try:
        await call
    except ServiceError as error:
        return f"{error.code.name} {error.reason}"
    return "granted"


async def _relation_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Relation)) or 0)


async def test_two_mandates_granted_at_once_for_the_same_pair_make_one_relation(
    relations: RelationServicer,
    clock: FakeClock,
    new_person: NewPerson,
    identity_sessions: async_sessionmaker[AsyncSession],
    writes_held: Callable[[int], Awaitable[None]],
) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    set_caller(anne.principal)

    # Two sessions, each past the "one active relation" check before either writes.
    request = _grant_request(clock, bob)
    grants = [
        asyncio.create_task(_outcome(relations.GrantMandate(request, NO_CONTEXT))) for _ in range(2)
    ]
    await writes_held(2)
    outcomes = await asyncio.gather(*grants)

    assert sorted(outcomes) == ["ALREADY_EXISTS RELATION_EXISTS", "granted"]
    assert await _relation_rows(identity_sessions) == 1


async def test_one_child_declared_twice_at_once_makes_one_relation(
    relations: RelationServicer,
    clock: FakeClock,
    new_person: NewPerson,
    in_registers: InRegisters,
    identity_sessions: async_sessionmaker[AsyncSession],
    writes_held: Callable[[int], Awaitable[None]],
) -> None:
    paul = await new_person("Paul")
    child = await in_registers.child_of(paul, (clock.now - timedelta(days=365 * 8)).date())
    set_caller(paul.principal)
    request = pb.DeclareChildRequest(
        child_national_id=child, child_first_name="Lea", child_last_name="Weber"
    )

    declarations = [
        asyncio.create_task(_outcome(relations.DeclareChild(request, NO_CONTEXT))) for _ in range(2)
    ]
    await writes_held(2)
    outcomes = await asyncio.gather(*declarations)

    assert sorted(outcomes) == ["ALREADY_EXISTS RELATION_EXISTS", "granted"]
    assert await _relation_rows(identity_sessions) == 1


async def test_an_expired_mandate_makes_room_for_a_new_one_and_stays_expired_not_revoked(
    relations: RelationServicer,
    clock: FakeClock,
    new_person: NewPerson,
    identity_sessions: async_sessionmaker[AsyncSession],
) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    set_caller(anne.principal)
    first = (await relations.GrantMandate(_grant_request(clock, bob), NO_CONTEXT)).relation

    clock.advance(timedelta(hours=1, seconds=1))
    second = (await relations.GrantMandate(_grant_request(clock, bob), NO_CONTEXT)).relation
    with pytest.raises(ServiceError) as third:
        await relations.GrantMandate(_grant_request(clock, bob), NO_CONTEXT)

    assert third.value.reason == "RELATION_EXISTS"
    listed = await relations.ListRelations(pb.ListRelationsRequest(), NO_CONTEXT)
    assert {(r.id, r.revoked) for r in listed.acted_for_by} == {
        (first.id, False),  # shown as it is: expired, not revoked
        (second.id, False),
    }
    async with identity_sessions() as session:
        ended = await session.scalar(select(Relation.ended_at).where(Relation.id == first.id))
    assert ended == first.expires_at.ToDatetime(tzinfo=clock.now.tzinfo)


async def test_a_revoked_mandate_makes_room_for_a_new_one(
    relations: RelationServicer, clock: FakeClock, new_person: NewPerson
) -> None:
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    set_caller(anne.principal)
    first = (await relations.GrantMandate(_grant_request(clock, bob), NO_CONTEXT)).relation
    await relations.RevokeRelation(pb.RevokeRelationRequest(relation_id=first.id), NO_CONTEXT)

    second = (await relations.GrantMandate(_grant_request(clock, bob), NO_CONTEXT)).relation

    listed = await relations.ListRelations(pb.ListRelationsRequest(), NO_CONTEXT)
    assert {(r.id, r.revoked) for r in listed.acted_for_by} == {
        (first.id, True),
        (second.id, False),
    }


async def test_the_database_itself_refuses_a_second_current_relation(
    relations: RelationServicer,
    clock: FakeClock,
    new_person: NewPerson,
    identity_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Whatever the code path: a row written around the rules is refused too."""
    anne = await new_person("Anne")
    bob = await new_person("Bob")
    set_caller(anne.principal)
    await relations.GrantMandate(_grant_request(clock, bob), NO_CONTEXT)

    with pytest.raises(Exception, match="uq_relations_current_pair"):
        async with identity_sessions() as session, session.begin():
            await session.execute(
                text(
                    "INSERT INTO relations (id, kind, actor_national_id, subject_national_id, "
                    "subject_name, rights, expires_at, created_by) "
                    "SELECT gen_random_uuid(), kind, actor_national_id, subject_national_id, "
                    "subject_name, rights, expires_at, created_by FROM relations"
                )
            )
    assert await _relation_rows(identity_sessions) == 1
