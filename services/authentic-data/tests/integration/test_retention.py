"""Authentic data's retention on its migrated database, the clock moved forward: access-log
entries past their age lose their personal part, the younger ones keep it, and the chain still
verifies; a second run changes nothing; batches."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_authentic_data.access import repository
from guichet_authentic_data.access.models import DataAccess
from guichet_authentic_data.access.verify import verify_log
from guichet_authentic_data.retention import purge_access_log
from guichet_kit.db import transaction
from guichet_kit.retention import Policy, in_batches

TEN_YEARS = Policy("access_log", timedelta(days=3650), batch=2)


async def _read(sessions: async_sessionmaker[AsyncSession], subject: str) -> None:
    async with transaction(sessions) as session:
        await repository.append(
            session,
            repository.NewEntry(
                subject=subject,
                accessor_kind="administration",
                accessor="acd",
                purpose="acd:tax-assessment",
                fields=["name"],
                agent="agent-7",
                request_reference="PR-AAAA-AAAA-1",
                correlation_id="c-1",
            ),
        )


async def _entries(sessions: async_sessionmaker[AsyncSession]) -> list[DataAccess]:
    async with sessions() as session:
        return list(await session.scalars(select(DataAccess).order_by(DataAccess.id)))


async def test_old_entries_lose_their_personal_part_and_the_chain_still_verifies(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(5):
        await _read(sessions, "person:19800101123")
    for _ in range(2):
        await _read(sessions, "person:19750606202")
    entries = await _entries(sessions)
    last_old, first_young = entries[4].accessed_at, entries[5].accessed_at
    between = last_old + (first_young - last_old) / 2
    purge = in_batches(sessions, purge_access_log)

    assert await purge(TEN_YEARS, between + timedelta(days=3649)) == 0
    assert await purge(TEN_YEARS, between + timedelta(days=3650)) == 5
    entries = await _entries(sessions)
    assert [entry.subject for entry in entries] == [None] * 5 + ["person:19750606202"] * 2
    assert all(entry.agent is None and entry.salt is None for entry in entries[:5])
    assert all(entry.purged_at is not None for entry in entries[:5])
    assert all(entry.agent == "agent-7" and entry.purged_at is None for entry in entries[5:])
    assert [entry.accessor for entry in entries] == ["acd"] * 7, "the public part stays"
    async with sessions() as session:
        assert (await verify_log(session)).intact
    assert await purge(TEN_YEARS, between + timedelta(days=3650)) == 0, "a second run: nothing"

    assert await purge(TEN_YEARS, first_young + timedelta(days=3651)) == 2
    assert all(entry.subject is None for entry in await _entries(sessions))
    async with sessions() as session:
        assert (await verify_log(session)).intact
