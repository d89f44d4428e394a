"""Transactional outbox: an event is stored with the change that caused it, then relayed to NATS.

The relay publishes with `Nats-Msg-Id = event_id`, so a row published twice (the relay died between
publish and mark-sent) is de-duplicated by JetStream; consumers are idempotent on top of that.
"""

from __future__ import annotations

import asyncio
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from google.protobuf.message import Message
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind
from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from guichet_kit import correlation, tracing
from guichet_kit.db import Base, transaction
from guichet_kit.metrics import OUTBOX_FAILURES, OUTBOX_PUBLISHED
from guichet_kit.worker_parts import WorkerPart, worker_part

log = structlog.get_logger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
EVENT_TYPE_HEADER = "Event-Type"


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    # The relay only ever looks for unsent rows.
    __table_args__ = (Index("ix_outbox_unsent", "id", postgresql_where=sent_at.is_(None)),)


class Event(Protocol):
    """Every event payload in proto/guichet/events carries these two fields."""

    event_id: str

    @property
    def occurred_at(self) -> Any: ...

    def SerializeToString(self, *, deterministic: bool = ...) -> bytes: ...


def stamp(event: Message) -> None:
    """Give an event its id and time if it has none yet."""
    if not getattr(event, "event_id", ""):
        event.event_id = str(uuid.uuid4())  # type: ignore[attr-defined]
    occurred_at = event.occurred_at  # type: ignore[attr-defined]
    if not occurred_at.seconds:
        occurred_at.FromDatetime(datetime.now(UTC))


class EventsWritten:
    """Set by `add_event`; a declared RPC reads it after its commit to wake the relay at once."""

    def __init__(self) -> None:
        self.written = False


# A mutable cell rather than a flag, so tasks the rules spawn still mark their caller's call.
_events_written: ContextVar[EventsWritten | None] = ContextVar("events_written", default=None)


def track_events() -> EventsWritten:
    """Start watching for events written by the current call."""
    cell = EventsWritten()
    _events_written.set(cell)
    return cell


def add_event(session: AsyncSession, subject: str, event: Message) -> uuid.UUID:
    """Store `event` in the outbox inside the caller's transaction."""
    if (cell := _events_written.get()) is not None:
        cell.written = True
    stamp(event)
    event_id = uuid.UUID(event.event_id)  # type: ignore[attr-defined]
    headers = {EVENT_TYPE_HEADER: event.DESCRIPTOR.full_name}
    if cid := correlation.current():
        headers[correlation.EVENT_HEADER] = cid
    # The writing call's trace: the relay publishes it, the consumers continue it.
    tracing.inject(headers)
    session.add(
        OutboxMessage(
            event_id=event_id,
            subject=subject,
            payload=event.SerializeToString(),
            headers=headers,
        )
    )
    return event_id


class OutboxRelay:
    """Publishes unsent outbox rows in order; a failed publish leaves the row for the next pass."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        *,
        batch_size: int = 100,
        idle_seconds: float = 0.5,
        publish_timeout: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._js = js
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._publish_timeout = publish_timeout
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that wrote events, so they go out without waiting for a poll."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """One pass: publish what is unsent, mark it sent; returns how many were published."""
        published = 0
        async with transaction(self._sessions) as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None))
                    .order_by(OutboxMessage.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for row in rows:
                try:
                    await self._publish(row)
                except (NatsError, TimeoutError) as exc:
                    # Keep order: stop at the first failure and retry this row next pass.
                    row.attempts += 1
                    row.last_error = repr(exc)[:500]
                    OUTBOX_FAILURES.inc()
                    log.warning("outbox.publish_failed", subject=row.subject, error=repr(exc))
                    break
                await self._mark_sent(session, row)
                OUTBOX_PUBLISHED.labels(row.subject).inc()
                published += 1
        return published

    async def _publish(self, row: OutboxMessage) -> None:
        headers = {**row.headers, MSG_ID_HEADER: str(row.event_id)}
        # A row written inside a trace is published in it: its consumers become children of
        # this span, which shows how long the event waited in the outbox.
        with tracing.span(
            f"{row.subject} publish",
            SpanKind.PRODUCER,
            parent=row.headers,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": row.subject,
                "messaging.message.id": str(row.event_id),
            },
            continuing_only=True,
        ) as span:
            if span is not None:
                tracing.inject(headers)
            await self._js.publish(
                row.subject, row.payload, timeout=self._publish_timeout, headers=headers
            )

    async def _mark_sent(self, session: AsyncSession, row: OutboxMessage) -> None:
        row.sent_at = datetime.now(UTC)
        row.attempts += 1

    async def run(self, stop: asyncio.Event) -> None:
        part = worker_part("outbox relay")
        try:
            await self._run(stop, part)
        finally:
            part.stopped()

    async def _run(self, stop: asyncio.Event, part: WorkerPart) -> None:
        log.info("outbox.relay_started")
        part.running()
        while not stop.is_set():
            try:
                published = await self.publish_pending()
            except Exception:  # a database outage must not end the relay
                log.exception("outbox.pass_failed")
                published = 0
            if published == self._batch_size:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waiters, timeout=self._idle_seconds, return_when="FIRST_COMPLETED")
            for waiter in waiters:
                waiter.cancel()
        log.info("outbox.relay_stopped")
