"""JetStream: one stream per producing service, durable pull consumers, idempotent handling.

A consumed event is applied in one database transaction together with a `processed_events` row,
so a redelivered event is recognised and acknowledged without being applied twice. A transient
failure is `nak`ed with back-off; a poison message (undecodable, or failing every delivery) is
copied to the dead-letter subject and `term`inated so it stops blocking the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

import nats
import structlog
from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry.trace import SpanKind
from sqlalchemy import DateTime, String, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from guichet_kit import correlation, tracing
from guichet_kit.db import Base, transaction
from guichet_kit.metrics import EVENTS_CONSUMED
from guichet_kit.outbox import MSG_ID_HEADER
from guichet_kit.settings import PlatformSettings
from guichet_kit.worker_parts import WorkerPart, worker_part

log = structlog.get_logger(__name__)

DEAD_LETTER_STREAM = "DEADLETTER"
DEAD_LETTER_PREFIX = "deadletter"
# Long enough to cover a relay restart; consumers are idempotent beyond it anyway.
DUPLICATE_WINDOW = timedelta(hours=1)

E = TypeVar("E", bound=Message)


class ProcessedEvent(Base):
    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class PoisonMessage(Exception):
    """The event can never be applied (bad content): dead-letter it instead of retrying."""


# Failures of a dependency, not of the event: retried for as long as they last, never
# dead-lettered (a database restart must not lose an account deletion).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    OSError,
    TimeoutError,
    NatsError,
)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if _is_rpc_outage(error):
        return True
    return isinstance(error, TRANSIENT_ERRORS)


def _is_rpc_outage(error: BaseException) -> bool:
    """A gRPC call to a service that is down; read by duck typing so the rules modules that use
    this module do not depend on gRPC."""
    code = getattr(error, "code", None)
    if not type(error).__module__.startswith("grpc") or not callable(code):
        return False
    return getattr(code(), "name", "") in ("UNAVAILABLE", "DEADLINE_EXCEEDED")


async def connect(url: str, name: str) -> NatsClient:
    return await nats.connect(url, name=name, max_reconnect_attempts=-1, connect_timeout=5)


def stream_config(
    name: str, subjects: Sequence[str], *, replicas: int | None = None
) -> StreamConfig:
    """A file-backed stream with `replicas` copies (None: GUICHET_STREAM_REPLICAS, default 1)."""
    if replicas is None:
        replicas = PlatformSettings().stream_replicas
    return StreamConfig(
        name=name,
        subjects=list(subjects),
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
        num_replicas=replicas,
    )


async def ensure_stream(
    js: JetStreamContext, name: str, subjects: Sequence[str], *, replicas: int | None = None
) -> None:
    """Create or update a stream; the producing service owns it. An existing stream takes the
    replica count of the setting too (JetStream moves it to more or fewer copies)."""
    config = stream_config(name, subjects, replicas=replicas)
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


def dead_letter_subject(consumer: str, subject: str) -> str:
    return f"{DEAD_LETTER_PREFIX}.{consumer}.{subject}"


@dataclass
class EventSubscription(Generic[E]):
    """A durable consumer `<consumer-service>-<purpose>` applying one kind of event."""

    stream: str
    durable: str
    subject: str
    event_type: type[E]
    handler: Callable[[AsyncSession, E], Awaitable[None]]
    # Deliveries before a handler that keeps failing (a bug, not an outage) is dead-lettered.
    max_deliver: int = 5
    backoff: tuple[float, ...] = field(default=(1.0, 5.0, 30.0))
    ack_wait: float = 30.0
    # Where a new durable starts: None, every event the stream holds (the server's default);
    # NEW, only those published after it was created (e.g. notifications, which must not tell
    # people about the past when the consumer first appears). JetStream refuses to change it on
    # an existing durable, which keeps its position anyway.
    deliver_policy: DeliverPolicy | None = None
    # Called after an event was applied and committed (not for a duplicate): e.g. to wake a
    # worker in the same process that acts on what the handler wrote.
    on_applied: Callable[[], None] | None = None

    def delay_after(self, deliveries: int) -> float:
        return self.backoff[min(deliveries, len(self.backoff)) - 1]


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class EventConsumer(Generic[E]):
    def __init__(
        self,
        js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
        subscription: EventSubscription[E],
        *,
        batch_size: int = 20,
    ) -> None:
        self._js = js
        self._sessions = sessions
        self._sub = subscription
        self._batch_size = batch_size

    async def run(self, stop: asyncio.Event) -> None:
        sub = self._sub
        # Not running for the worker's health port until it is bound to its stream.
        part = worker_part(f"consumer {sub.durable}")
        try:
            await self._run(stop, part)
        finally:
            part.stopped()

    async def _run(self, stop: asyncio.Event, part: WorkerPart) -> None:
        sub = self._sub
        await ensure_stream(self._js, DEAD_LETTER_STREAM, [f"{DEAD_LETTER_PREFIX}.>"])
        pull = None
        while pull is None and not stop.is_set():
            try:
                config = ConsumerConfig(
                    durable_name=sub.durable,
                    ack_policy=AckPolicy.EXPLICIT,
                    # Redeliveries are bounded by the consumer itself (see `handle`), so an
                    # outage longer than a few back-offs does not exhaust the message.
                    max_deliver=-1,
                    ack_wait=sub.ack_wait,
                    filter_subject=sub.subject,
                    deliver_policy=sub.deliver_policy,
                )
                # Create or update: a durable made by an older version takes the new settings.
                await self._js.add_consumer(sub.stream, config)
                pull = await self._js.pull_subscribe_bind(sub.durable, sub.stream)
            except NotFoundError:
                # The producer creates its stream when it first starts; wait for it.
                log.warning("events.stream_missing", stream=sub.stream, consumer=sub.durable)
                await _sleep_unless(stop, 2.0)
        if pull is None:
            return
        log.info("events.consumer_started", consumer=sub.durable, subject=sub.subject)
        part.running()
        try:
            while not stop.is_set():
                try:
                    messages = await pull.fetch(self._batch_size, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    continue
                except NatsError:
                    log.warning("events.fetch_failed", consumer=sub.durable, exc_info=True)
                    await _sleep_unless(stop, 1.0)
                    continue
                for message in messages:
                    try:
                        await self.handle(message)
                    except Exception:
                        # Unacknowledged, the message comes back after ack_wait; the loop goes on.
                        log.exception("events.handling_failed", consumer=sub.durable)
        finally:
            await pull.unsubscribe()
            log.info("events.consumer_stopped", consumer=sub.durable)

    async def handle(self, message: Msg) -> None:
        # Continues the trace of the call that wrote the event (its `traceparent` header).
        with tracing.span(
            f"{message.subject} process",
            SpanKind.CONSUMER,
            parent=message.headers or {},
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": message.subject,
                "messaging.consumer.group.name": self._sub.durable,
            },
        ):
            await self._apply(message)

    async def _apply(self, message: Msg) -> None:
        sub = self._sub
        headers = message.headers or {}
        correlation.ensure(headers.get(correlation.EVENT_HEADER))
        deliveries = message.metadata.num_delivered or 1
        try:
            event = sub.event_type.FromString(message.data)
            # The id inside the payload, not the header: a republished copy is the same event.
            event_id = uuid.UUID(getattr(event, "event_id", ""))
        except (ValueError, DecodeError) as exc:
            await self._dead_letter(message, f"undecodable: {exc!r}")
            return
        try:
            async with transaction(self._sessions) as session:
                first_time = await session.scalar(
                    insert(ProcessedEvent)
                    .values(consumer=sub.durable, event_id=event_id)
                    .on_conflict_do_nothing()
                    .returning(ProcessedEvent.event_id)
                )
                if first_time is not None:
                    await sub.handler(session, event)
        except PoisonMessage as exc:
            await self._dead_letter(message, f"poison: {exc}")
            return
        except Exception as exc:
            if deliveries >= sub.max_deliver and not is_transient(exc):
                await self._dead_letter(message, f"failed {deliveries} times: {exc!r}")
                return
            delay = sub.delay_after(deliveries)
            log.warning(
                "events.retry",
                consumer=sub.durable,
                event_id=str(event_id),
                delay=delay,
                error=repr(exc),
            )
            EVENTS_CONSUMED.labels(sub.durable, "retried").inc()
            await message.nak(delay=delay)
            return
        if first_time is not None and sub.on_applied is not None:
            sub.on_applied()
        await message.ack()
        EVENTS_CONSUMED.labels(sub.durable, "applied" if first_time else "duplicate").inc()

    async def _dead_letter(self, message: Msg, why: str) -> None:
        sub = self._sub
        headers = dict(message.headers or {})
        headers.update(
            {
                "Dead-Letter-Reason": why[:500],
                "Dead-Letter-Consumer": sub.durable,
                "Original-Subject": message.subject,
                "Dead-Lettered-At": datetime.now(UTC).isoformat(),
            }
        )
        # A fresh message id: the original id was already used on the producer's stream.
        headers.pop(MSG_ID_HEADER, None)
        await self._js.publish(
            dead_letter_subject(sub.durable, message.subject), message.data, headers=headers
        )
        await message.term()
        EVENTS_CONSUMED.labels(sub.durable, "dead_lettered").inc()
        log.error("events.dead_lettered", consumer=sub.durable, subject=message.subject, why=why)
