"""A follower hands over each event once, in order, from where it was told to start, also when
its consumer is lost (before and after its first event) and when the stream is made again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from guichet.events.v1 import identity_pb2 as identity_events
from guichet_kit.events import ensure_stream
from guichet_kit.following import follow_events
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until

SUBJECT = f"kittest{worker_name()}.following.v1"


async def publish(js: JetStreamContext, marker: str) -> None:
    await js.publish(SUBJECT, identity_events.AccountDeleted(subject=marker).SerializeToString())


class Followed:
    def __init__(self, js: JetStreamContext, stream: str) -> None:
        self.js, self.stream = js, stream
        self.seen: list[str] = []

    def handle(self, event: identity_events.AccountDeleted) -> None:
        self.seen.append(event.subject)

    async def consumers(self) -> list[str]:
        return [c.name for c in await self.js.consumers_info(self.stream)]

    async def lose_consumer(self) -> None:
        """What NATS does to a consumer after a restart or a long pause of its process."""
        names = await self.consumers()
        assert len(names) == 1, names
        await self.js.delete_consumer(self.stream, names[0])

    async def has_seen(self, *markers: str) -> None:
        async def arrived() -> bool:
            return self.seen[-len(markers) :] == list(markers)

        await wait_until(arrived, seconds=30, what=f"{markers} handed over")


@pytest.fixture
async def following(jetstream: JetStreamContext, stream: str) -> AsyncIterator[Followed]:
    for old in ("old-1", "old-2"):
        await publish(jetstream, old)
    followed, stop, ready = Followed(jetstream, stream), asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        follow_events(
            jetstream,
            stream=stream,
            subject=SUBJECT,
            event_type=identity_events.AccountDeleted,
            handle=followed.handle,
            config=lambda: ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
            stop=stop,
            ready=ready,
        )
    )
    await asyncio.wait_for(ready.wait(), timeout=10)
    yield followed
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    # Its consumer goes with it.
    assert await followed.consumers() == []


async def test_a_lost_consumer_is_made_again_from_the_next_event(
    following: Followed, jetstream: JetStreamContext
) -> None:
    # Lost before any event: the events before the start stay in the past.
    await following.lose_consumer()
    await publish(jetstream, "new-1")
    await following.has_seen("new-1")

    # Lost after one: nothing again, nothing missed, in order.
    await following.lose_consumer()
    await publish(jetstream, "new-2")
    await publish(jetstream, "new-3")
    await following.has_seen("new-2", "new-3")
    assert following.seen == ["new-1", "new-2", "new-3"]


async def test_a_stream_made_again_is_followed_from_its_start(
    following: Followed, jetstream: JetStreamContext, stream: str
) -> None:
    await publish(jetstream, "before")
    await following.has_seen("before")
    await jetstream.delete_stream(stream)
    await ensure_stream(jetstream, stream, [f"kittest{worker_name()}.>"])
    marker = f"after-{uuid.uuid4()}"
    await publish(jetstream, marker)
    await following.has_seen(marker)
    assert following.seen == ["before", marker]
