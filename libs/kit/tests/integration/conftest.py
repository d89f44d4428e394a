"""A scratch database with the kit's tables, and a scratch stream, per xdist worker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import Base, create_engine, session_factory
from guichet_kit.events import DEAD_LETTER_STREAM, ProcessedEvent, ensure_stream
from guichet_kit.infra import postgres_url
from guichet_kit.outbox import OutboxMessage
from guichet_kit.testing import purge_streams, recreate_database, worker_name

STREAM = f"KITTEST_{worker_name().upper()}"
SUBJECT_PREFIX = f"kittest{worker_name()}"


@pytest.fixture(scope="session")
async def kit_sessions(infra: dict[str, str]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    name = f"kit_test_{worker_name()}"
    await recreate_database(infra, name)
    engine = create_engine(postgres_url(infra, name))
    async with engine.begin() as connection:
        await connection.run_sync(
            Base.metadata.create_all, tables=[OutboxMessage.__table__, ProcessedEvent.__table__]
        )
        # What a consumer's handler changes in these tests: one row per application.
        await connection.execute(
            text("CREATE TABLE applied (event_id uuid NOT NULL, number text NOT NULL)")
        )
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def sessions(
    kit_sessions: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    async with kit_sessions() as session, session.begin():
        await session.execute(text("TRUNCATE outbox, processed_events, applied"))
    return kit_sessions


@pytest.fixture
async def stream(jetstream: JetStreamContext) -> str:
    await ensure_stream(jetstream, STREAM, [f"{SUBJECT_PREFIX}.>"])
    await ensure_stream(jetstream, DEAD_LETTER_STREAM, ["deadletter.>"])
    await purge_streams(jetstream, [STREAM, DEAD_LETTER_STREAM])
    return STREAM
