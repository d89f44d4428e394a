"""The consumer loop on real JetStream: idempotent, retried with back-off, poison dead-lettered."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_kit.events import (
    DEAD_LETTER_STREAM,
    EventConsumer,
    EventSubscription,
    PoisonMessage,
    ProcessedEvent,
)
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until

SUBJECT = f"kittest{worker_name()}.tracking.created.v1"
Handler = Callable[[AsyncSession, events_pb2.TrackingCreated], Awaitable[None]]


async def record(session: AsyncSession, event: events_pb2.TrackingCreated) -> None:
    await session.execute(
        text("INSERT INTO applied (event_id, number) VALUES (:id, :number)"),
        {"id": event.event_id, "number": event.number},
    )


async def applied(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(text("SELECT number FROM applied ORDER BY number"))
        return [row[0] for row in rows]


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    await wait_until(check, seconds=15.0, what="the consumer's effect", interval=0.1)


Running = Callable[..., AbstractAsyncContextManager[None]]


@pytest.fixture
def run_consumer(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, stream: str
) -> Running:
    durable = f"kittest-{uuid.uuid4().hex[:8]}"

    @asynccontextmanager
    async def start(
        handler: Handler,
        max_deliver: int = 3,
        deliver_policy: DeliverPolicy | None = None,
        on_applied: Callable[[], None] | None = None,
    ) -> AsyncIterator[None]:
        subscription = EventSubscription(
            stream=stream,
            durable=durable,
            subject=SUBJECT,
            event_type=events_pb2.TrackingCreated,
            handler=handler,
            max_deliver=max_deliver,
            backoff=(0.2, 0.2),
            deliver_policy=deliver_policy,
            on_applied=on_applied,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(EventConsumer(jetstream, sessions, subscription).run(stop))

        async def exists() -> bool:
            await jetstream.consumer_info(stream, durable)  # raises until it is created
            return True

        await eventually(exists)
        try:
            yield
        finally:
            stop.set()
            await task
            await jetstream.delete_consumer(stream, durable)

    return start


def created(number: str, event_id: str | None = None) -> events_pb2.TrackingCreated:
    return events_pb2.TrackingCreated(event_id=event_id or str(uuid.uuid4()), number=number)


async def test_the_same_event_delivered_twice_is_applied_once(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, run_consumer: Running
) -> None:
    event = created("ET-TWICE")
    async with run_consumer(record):
        # Two copies, as after a producer retry beyond the de-duplication window.
        await jetstream.publish(SUBJECT, event.SerializeToString())
        await jetstream.publish(SUBJECT, event.SerializeToString())
        await jetstream.publish(SUBJECT, created("ET-OTHER").SerializeToString())

        async def both_handled() -> bool:
            async with sessions() as session:
                return (await session.scalar(select(func.count()).select_from(ProcessedEvent))) == 2

        await eventually(both_handled)
        await asyncio.sleep(0.5)  # room for a wrongly applied second copy to land
    assert await applied(sessions) == ["ET-OTHER", "ET-TWICE"]


async def test_the_applied_hook_runs_once_per_event_not_for_a_copy(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, run_consumer: Running
) -> None:
    calls = 0

    def hook() -> None:
        nonlocal calls
        calls += 1

    event = created("ET-HOOK")
    async with run_consumer(record, on_applied=hook):
        await jetstream.publish(SUBJECT, event.SerializeToString())
        await jetstream.publish(SUBJECT, event.SerializeToString())
        await jetstream.publish(SUBJECT, created("ET-HOOK-2").SerializeToString())

        async def both_applied() -> bool:
            return await applied(sessions) == ["ET-HOOK", "ET-HOOK-2"]

        await eventually(both_applied)
        async with sessions() as session:
            handled = await session.scalar(select(func.count()).select_from(ProcessedEvent))
        assert handled == 2
    assert calls == 2


async def test_a_new_only_durable_skips_what_was_published_before_it(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, run_consumer: Running
) -> None:
    await jetstream.publish(SUBJECT, created("ET-BEFORE").SerializeToString())
    async with run_consumer(record, deliver_policy=DeliverPolicy.NEW):
        await jetstream.publish(SUBJECT, created("ET-AFTER").SerializeToString())

        async def after_applied() -> bool:
            return await applied(sessions) == ["ET-AFTER"]

        await eventually(after_applied)
        await asyncio.sleep(0.5)  # room for the earlier event to land, wrongly
    assert await applied(sessions) == ["ET-AFTER"]


async def test_a_transient_failure_is_retried_and_then_applied(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, run_consumer: Running
) -> None:
    attempts = 0

    async def flaky(session: AsyncSession, event: events_pb2.TrackingCreated) -> None:
        nonlocal attempts
        attempts += 1
        await record(session, event)
        if attempts == 1:
            raise ConnectionError("downstream briefly unavailable")

    async with run_consumer(flaky):
        await jetstream.publish(SUBJECT, created("ET-FLAKY").SerializeToString())

        async def applied_once() -> bool:
            return await applied(sessions) == ["ET-FLAKY"]

        await eventually(applied_once)
    assert attempts == 2
    # The first attempt's insert was rolled back with its failed transaction.
    assert await applied(sessions) == ["ET-FLAKY"]


async def _dead_letters(jetstream: JetStreamContext) -> int:
    return (await jetstream.stream_info(DEAD_LETTER_STREAM)).state.messages


async def test_an_undecodable_message_goes_to_the_dead_letter_subject(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, run_consumer: Running
) -> None:
    async with run_consumer(record):
        await jetstream.publish(SUBJECT, b"\xff\xfe not a protobuf")
        await jetstream.publish(SUBJECT, created("ET-AFTER").SerializeToString())

        async def after_applied() -> bool:
            return await applied(sessions) == ["ET-AFTER"]

        await eventually(after_applied)
        await eventually(lambda: _is(jetstream, 1))
    message = await jetstream.get_last_msg(DEAD_LETTER_STREAM, "deadletter.>")
    assert message.data == b"\xff\xfe not a protobuf"
    assert message.headers is not None
    assert message.headers["Original-Subject"] == SUBJECT
    assert message.headers["Dead-Letter-Reason"].startswith("undecodable")


async def _is(jetstream: JetStreamContext, count: int) -> bool:
    return await _dead_letters(jetstream) == count


async def test_a_poison_event_and_an_always_failing_one_are_dead_lettered_not_retried_forever(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, run_consumer: Running
) -> None:
    calls: dict[str, int] = {}

    async def picky(session: AsyncSession, event: events_pb2.TrackingCreated) -> None:
        calls[event.number] = calls.get(event.number, 0) + 1
        if event.number == "ET-POISON":
            raise PoisonMessage("paper form unknown to this consumer")
        if event.number == "ET-BROKEN":
            raise RuntimeError("bug: fails every time")
        await record(session, event)

    async with run_consumer(picky, 3):
        for number in ("ET-POISON", "ET-BROKEN", "ET-GOOD"):
            await jetstream.publish(SUBJECT, created(number).SerializeToString())
        await eventually(lambda: _is(jetstream, 2))
    assert calls == {"ET-POISON": 1, "ET-BROKEN": 3, "ET-GOOD": 1}
    assert await applied(sessions) == ["ET-GOOD"]
    async with sessions() as session:
        # A dead-lettered event is not marked processed: replaying it after a fix applies it.
        handled = await session.scalar(select(func.count()).select_from(ProcessedEvent))
    assert handled == 1


async def test_an_outage_outlasting_max_deliver_is_waited_out_not_dead_lettered(
    sessions: async_sessionmaker[AsyncSession], jetstream: JetStreamContext, run_consumer: Running
) -> None:
    attempts = 0

    async def database_down_a_while(
        session: AsyncSession, event: events_pb2.TrackingCreated
    ) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 4:
            raise ConnectionRefusedError("database restarting")
        await record(session, event)

    async with run_consumer(database_down_a_while, 2):
        await jetstream.publish(SUBJECT, created("ET-PATIENT").SerializeToString())

        async def applied_in_the_end() -> bool:
            return await applied(sessions) == ["ET-PATIENT"]

        await eventually(applied_in_the_end)
    assert attempts == 5
    assert await _dead_letters(jetstream) == 0
