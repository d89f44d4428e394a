"""Following one subject of a JetStream stream in a long-lived process (not a durable worker):
an ephemeral consumer of its own, each event decoded and handed over, until `stop`.

The follower keeps the stream sequence of the next event itself and, whenever its consumer is
lost (NATS restarted, the server dropped it, the stream was recreated, the process was starved
past the server's patience), makes a new one from there: nothing is missed and nothing already
handed over comes again. nats.py's ordered consumer is not used for this: when it has seen no
event yet it resets to the stream's first event, replaying everything (a badge would count the
answers of last month again), and a failed reset leaves it silent for good."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import TypeVar

import structlog
from google.protobuf.message import DecodeError, Message
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

log = structlog.get_logger(__name__)

EventT = TypeVar("EventT", bound=Message)

# Events asked for at once, and how long one ask waits when there are none.
BATCH = 64
FETCH_SECONDS = 1.0
# Idle this many asks in a row, the consumer is looked up: a lost one is made again.
CHECK_EVERY = 5
# A consumer nobody asks for this long is removed by the server (a follower that died).
INACTIVE_SECONDS = 60.0
RETRY_SECONDS = 2.0


class _Follower:
    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        subject: str,
        config: Callable[[], ConsumerConfig],
    ) -> None:
        self.js, self.stream, self.subject, self.config = js, stream, subject, config
        # Where the first consumer started, fixed when it was made (NEW becomes the sequence
        # after the stream's last event then): a consumer lost before any event starts there.
        self.first: ConsumerConfig | None = None
        # The stream sequence of the next event to hand over, once one was.
        self.next_sequence: int | None = None

    async def start_config(self) -> ConsumerConfig:
        """Where a new consumer starts: the caller's choice the first time, then right after the
        last event handed over (from the start of a stream that was recreated since)."""
        info = await self.js.stream_info(self.stream)
        if self.first is None:
            self.first = self.config()
            if self.first.deliver_policy in (None, DeliverPolicy.NEW):
                self.first.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                self.first.opt_start_seq = info.state.last_seq + 1
        if self.next_sequence is None:
            config = ConsumerConfig(
                deliver_policy=self.first.deliver_policy,
                opt_start_seq=self.first.opt_start_seq,
                opt_start_time=self.first.opt_start_time,
            )
        else:
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.next_sequence
            )
        if config.opt_start_seq is not None and config.opt_start_seq > info.state.last_seq + 1:
            # The stream was deleted and made again since: all it holds is new to us.
            config.opt_start_seq = 1
        config.filter_subject = self.subject
        config.ack_policy = AckPolicy.NONE
        config.mem_storage = True
        config.num_replicas = 1
        config.inactive_threshold = INACTIVE_SECONDS
        # Whose consumer this is, for an operator listing the stream's consumers.
        config.description = f"{socket.gethostname()} pid {os.getpid()}: follows {self.subject}"
        return config

    async def follow(
        self,
        event_type: type[EventT],
        handle: Callable[[EventT], None],
        stop: asyncio.Event,
        ready: asyncio.Event | None,
    ) -> None:
        consumer = await self.js.add_consumer(self.stream, await self.start_config())
        name = consumer.name
        subscription = await self.js.pull_subscribe_bind(consumer=name, stream=self.stream)
        if ready is not None:
            ready.set()
        log.info("events.following", subject=self.subject, next_sequence=self.next_sequence)
        idle = 0
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(BATCH, timeout=FETCH_SECONDS)
                except TimeoutError:
                    idle += 1
                    if idle % CHECK_EVERY == 0:
                        await self.js.consumer_info(self.stream, name)  # NotFoundError: lost
                    continue
                idle = 0
                for message in messages:
                    self.next_sequence = message.metadata.sequence.stream + 1
                    try:
                        event = event_type.FromString(message.data)
                    except DecodeError:
                        log.warning("events.following.undecodable", subject=self.subject)
                        continue
                    handle(event)
        finally:
            with contextlib.suppress(NatsError, TimeoutError, OSError):
                await subscription.unsubscribe()
                await self.js.delete_consumer(self.stream, name)


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
    """`config` says where following starts (e.g. DeliverPolicy.NEW, or a start time relative to
    now); it is asked once."""
    follower = _Follower(js, stream, subject, config)
    while not stop.is_set():
        try:
            await follower.follow(event_type, handle, stop, ready)
        except (NatsError, TimeoutError, OSError) as error:
            # The stream's owner has not created it yet, NATS is restarting, or the consumer was
            # lost: follow again from the next event.
            log.info("events.following.again", subject=subject, error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RETRY_SECONDS)
