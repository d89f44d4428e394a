"""A scratch database with the kit's tables, and a scratch stream, per xdist worker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from sqlalchemy import Column, MetaData, Table, Text, Uuid
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import Base, create_engine, session_factory
from guichet_kit.events import DEAD_LETTER_STREAM, ProcessedEvent, ensure_stream
from guichet_kit.infra import postgres_url
from guichet_kit.outbox import OutboxMessage
from guichet_testkit import worker_name
from guichet_testkit.db import recreate_database, truncate_tables
from guichet_testkit.streams import purge_streams

STREAM = f"KITTEST_{worker_name().upper()}"
SUBJECT_PREFIX = f"kittest{worker_name()}"

# What a consumer's handler changes in these tests: one row per application.
HANDLER_TABLES = MetaData()
APPLIED = Table(
    "applied",
    HANDLER_TABLES,
    Column("event_id", Uuid, nullable=False),
    Column("number", Text, nullable=False),
)


@pytest.fixture(scope="session")
async def kit_sessions(infra: dict[str, str]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    name = f"kit_test_{worker_name()}"
    await recreate_database(infra, name)
    engine = create_engine(postgres_url(infra, name))
    async with engine.begin() as connection:
        await connection.run_sync(
            Base.metadata.create_all, tables=[OutboxMessage.__table__, ProcessedEvent.__table__]
        )
        await connection.run_sync(HANDLER_TABLES.create_all)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def sessions(
    kit_sessions: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    await truncate_tables(kit_sessions, Base.metadata, HANDLER_TABLES)
    return kit_sessions


@pytest.fixture
async def stream(jetstream: JetStreamContext) -> str:
    await ensure_stream(jetstream, STREAM, [f"{SUBJECT_PREFIX}.>"])
    await ensure_stream(jetstream, DEAD_LETTER_STREAM, ["deadletter.>"])
    await purge_streams(jetstream, [STREAM, DEAD_LETTER_STREAM])
    return STREAM
