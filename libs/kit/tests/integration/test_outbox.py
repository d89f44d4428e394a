"""The outbox on real PostgreSQL and JetStream: each event reaches the stream exactly once."""

from __future__ import annotations

from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_kit.db import transaction
from guichet_kit.events import ensure_stream
from guichet_kit.outbox import MSG_ID_HEADER, OutboxMessage, OutboxRelay, add_event
from guichet_testkit import worker_name

SUBJECT_PREFIX = f"kittest{worker_name()}"


class RelayDyingAfterPublish(OutboxRelay):
    """Publishes, then dies before the row is marked sent (the crash the outbox must survive)."""

    async def _mark_sent(self, session: AsyncSession, row: OutboxMessage) -> None:
        raise RuntimeError("relay killed between publish and mark-sent")


async def _store_event(sessions: async_sessionmaker[AsyncSession], number: str) -> str:
    async with transaction(sessions) as session:
        event = events_pb2.TrackingCreated(number=number)
        add_event(session, f"{SUBJECT_PREFIX}.tracking.created.v1", event)
    return event.event_id


async def _unsent(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
    return int(count or 0)


async def test_event_is_published_once_when_relay_dies_between_publish_and_mark_sent(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, stream: str
) -> None:
    event_id = await _store_event(sessions, "ET12345678A")

    dying = RelayDyingAfterPublish(sessions, jetstream)
    try:
        await dying.publish_pending()
    except RuntimeError:
        pass
    else:
        raise AssertionError("the dying relay should have failed")
    assert await _unsent(sessions) == 1, "the row must stay unsent after the crash"
    assert (await jetstream.stream_info(stream)).state.messages == 1

    published = await OutboxRelay(sessions, jetstream).publish_pending()

    assert published == 1
    assert await _unsent(sessions) == 0
    info = await jetstream.stream_info(stream)
    assert info.state.messages == 1, "JetStream must drop the republished copy"
    message = await jetstream.get_last_msg(stream, f"{SUBJECT_PREFIX}.tracking.created.v1")
    assert message.headers is not None
    assert message.headers[MSG_ID_HEADER] == event_id
    assert events_pb2.TrackingCreated.FromString(message.data).number == "ET12345678A"


async def test_unsent_row_is_retried_until_the_stream_accepts_it(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, stream: str
) -> None:
    async with transaction(sessions) as session:
        # No stream listens on this subject yet: JetStream has no responder.
        add_event(session, "kitorphan.tracking.created.v1", events_pb2.TrackingCreated(number="X"))
    relay = OutboxRelay(sessions, jetstream, publish_timeout=1.0)

    assert await relay.publish_pending() == 0
    async with sessions() as session:
        row = (await session.scalars(select(OutboxMessage))).one()
    assert row.sent_at is None
    assert row.attempts == 1
    assert row.last_error

    await ensure_stream(jetstream, "KITORPHAN", ["kitorphan.>"])
    try:
        assert await relay.publish_pending() == 1
        assert await _unsent(sessions) == 0
        assert (await jetstream.stream_info("KITORPHAN")).state.messages == 1
    finally:
        await jetstream.delete_stream("KITORPHAN")


async def test_events_leave_in_the_order_they_were_written(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, stream: str
) -> None:
    numbers = [f"N{i}" for i in range(5)]
    for number in numbers:
        await _store_event(sessions, number)

    assert await OutboxRelay(sessions, jetstream).publish_pending() == 5

    received = []
    for sequence in range(1, 6):
        first = (await jetstream.stream_info(stream)).state.first_seq
        message = await jetstream.get_msg(stream, first + sequence - 1)
        received.append(events_pb2.TrackingCreated.FromString(message.data).number)
    assert received == numbers
