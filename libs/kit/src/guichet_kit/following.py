"""Following one subject of a JetStream stream in a long-lived process (not a durable worker):
an ordered, ephemeral consumer, each event decoded and handed over, re-subscribed while the
stream does not exist yet or NATS restarts, until `stop`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

import structlog
from google.protobuf.message import DecodeError, Message
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError

log = structlog.get_logger(__name__)

EventT = TypeVar("EventT", bound=Message)


async def follow_events(
    js: JetStreamContext,
    *,
    stream: str,
    subject: str,
    event_type: type[EventT],
    handle: Callable[[EventT], None],
    config: Callable[[], ConsumerConfig],
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
) -> None:
    """`config` is asked at each subscription (e.g. a start time relative to now)."""
    while not stop.is_set():
        try:
            await _follow(js, stream, subject, event_type, handle, config(), stop, ready)
        except (NotFoundError, TimeoutError, OSError) as error:
            # The stream's owner has not created it yet, or NATS is restarting: try again.
            log.info("events.following.waiting", subject=subject, error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=2.0)


async def _follow(
    js: JetStreamContext,
    stream: str,
    subject: str,
    event_type: type[EventT],
    handle: Callable[[EventT], None],
    config: ConsumerConfig,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
) -> None:
    await js.stream_info(stream)
    subscription = await js.subscribe(subject, stream=stream, ordered_consumer=True, config=config)
    if ready is not None:
        ready.set()
    log.info("events.following", subject=subject)
    try:
        while not stop.is_set():
            try:
                message = await subscription.next_msg(timeout=1.0)
            except TimeoutError:
                continue
            try:
                event = event_type.FromString(message.data)
            except DecodeError:
                log.warning("events.following.undecodable", subject=subject)
                continue
            handle(event)
    finally:
        await subscription.unsubscribe()
