"""messaging on the real servers: a migrated database per xdist worker, emptied before each test;
a scratch JetStream stream per worker standing for etracking's (so these tests never read, nor
send notifications for, other tests' trackings); the development mail and SMS sinks.

The consumers and the delivery worker run in-process as the worker role runs them
(`running`); a whole process is started only to see the service answer health.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.auth import set_caller
from guichet_kit.events import DEAD_LETTER_STREAM, EventConsumer, EventSubscription, ensure_stream
from guichet_messaging.notifications.contacts import identity_channel
from guichet_messaging.notifications.delivery import (
    DeliveryWorker,
    MailSender,
    Sender,
    SmsSender,
)
from guichet_messaging.notifications.etracking_events import TrackingNotifications
from guichet_messaging.notifications.models import Channel, Notification
from guichet_messaging.notifications.service import Backoff
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_sessions, service_metadata, truncate_tables
from guichet_testkit.eventually import wait_until
from guichet_testkit.streams import purge_streams

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = service_metadata("guichet_messaging")
BASE_URL = "https://guichet.example"
STREAM = f"MSGTEST_{worker_name()}".upper()
PREFIX = f"msgtest{worker_name()}"
CREATED = f"{PREFIX}.tracking.created.v1"
STATUS_CHANGED = f"{PREFIX}.tracking.status_changed.v1"


@pytest.fixture(scope="session")
async def messaging_database(
    infra: dict[str, str],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(infra, SERVICE_DIR, f"messaging_test_{worker_name()}") as sessions:
        yield sessions


@pytest.fixture
async def sessions(
    messaging_database: async_sessionmaker[AsyncSession],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await truncate_tables(messaging_database, TABLES)
    set_caller(None)
    yield messaging_database
    set_caller(None)


@pytest.fixture
async def stream(jetstream: JetStreamContext) -> str:
    """etracking's stream as these tests see it: empty at the start of each test."""
    await ensure_stream(jetstream, STREAM, [f"{PREFIX}.>"])
    await ensure_stream(jetstream, DEAD_LETTER_STREAM, ["deadletter.>"])
    await purge_streams(jetstream, [STREAM])
    return STREAM


@dataclass
class Sinks:
    smtp_host: str
    smtp_port: int
    sms_url: str
    sms_dir: Path


@pytest.fixture(scope="session")
def sinks(infra: dict[str, str]) -> Sinks:
    return Sinks(
        infra["GUICHET_SMTP_HOST"],
        int(infra["GUICHET_SMTP_PORT"]),
        infra["GUICHET_SMS_URL"],
        Path(infra["GUICHET_SMS_DIR"]),
    )


def senders(
    sinks: Sinks, *, smtp_port: int | None = None, sms_url: str | None = None
) -> dict[Channel, Sender]:
    return {
        Channel.EMAIL: MailSender(
            sinks.smtp_host,
            smtp_port or sinks.smtp_port,
            "OpenGuichet <noreply@openguichet.localhost>",
            timeout=5.0,
        ),
        Channel.SMS: SmsSender(sms_url or sinks.sms_url, timeout=5.0),
    }


# Short delays: a retry comes within a second (the back-off's shape is a unit test's business).
FAST = Backoff(base=0.2, max_delay=0.5, max_attempts=5)

Running = Callable[..., AbstractAsyncContextManager[TrackingNotifications]]


@pytest.fixture
def running(
    sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    stream: str,
    sinks: Sinks,
) -> Running:
    """Start the two consumers and a delivery worker (with the given senders and back-off) as
    the worker role does; stopped, and the durables deleted, at the end."""
    prefix = f"msgtest-{uuid.uuid4().hex[:8]}"
    handlers = TrackingNotifications(
        BASE_URL,
        prefix=prefix,
        stream=stream,
        created_subject=CREATED,
        status_changed_subject=STATUS_CHANGED,
        backoff=(0.2, 0.2),
    )

    @asynccontextmanager
    async def start(
        with_senders: dict[Channel, Sender] | None = None,
        backoff: Backoff = FAST,
        consumers: bool = True,
        poll_seconds: float = 0.1,
    ) -> AsyncIterator[TrackingNotifications]:
        worker = DeliveryWorker(
            sessions,
            with_senders or senders(sinks),
            backoff,
            poll_seconds=poll_seconds,
            concurrency=2,
        )
        # As the worker role wires them: a committed event wakes the delivery worker.
        handlers.recorded = worker.wake
        subscriptions = handlers.subscriptions() if consumers else []
        async with consuming(jetstream, sessions, stream, worker, subscriptions):
            yield handlers

    return start


@asynccontextmanager
async def consuming(
    jetstream: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    stream: str,
    worker: DeliveryWorker,
    subscriptions: Sequence[EventSubscription[Any]],
) -> AsyncIterator[None]:
    """The delivery worker and the consumers of `subscriptions` running as the worker role runs
    them, until the block ends; their durables are deleted then."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop))]
    for subscription in subscriptions:
        consumer = EventConsumer(jetstream, sessions, subscription)
        tasks.append(asyncio.create_task(consumer.run(stop)))
    try:
        # The durables take only what is published after they exist: wait for them.
        for durable in (subscription.durable for subscription in subscriptions):
            await wait_until(
                functools.partial(_exists, jetstream, stream, durable),
                seconds=15,
                what=f"the consumer {durable}",
            )
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for subscription in subscriptions:
            with contextlib.suppress(NotFoundError):
                await jetstream.delete_consumer(stream, subscription.durable)


def contacts_channel(infra: dict[str, str], services_address: str) -> grpc.aio.Channel:
    """identity's services port as messaging reaches it: mutual TLS with messaging's
    certificate."""
    pki = Path(infra["GUICHET_PKI_DIR"])
    return identity_channel(
        services_address,
        pki / "services" / "messaging.crt",
        pki / "services" / "messaging.key",
        pki / "ca.crt",
        timeout=5.0,
    )


async def _exists(jetstream: JetStreamContext, stream: str, durable: str) -> bool:
    await jetstream.consumer_info(stream, durable)  # raises while it does not exist
    return True


async def notifications(sessions: async_sessionmaker[AsyncSession]) -> list[Notification]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Notification).order_by(Notification.channel, Notification.created_at)
        )
        return list(rows)


def an_address() -> str:
    return f"anne.{uuid.uuid4().hex[:10]}@example.org"


def a_mobile() -> str:
    """A Luxembourg mobile number nobody else's test uses (the SMS sink is shared)."""
    return f"+352691{uuid.uuid4().int % 1_000_000:06d}"


@pytest.fixture
def clean_caller() -> Iterator[None]:
    set_caller(None)
    yield
    set_caller(None)


Check = Callable[[], Awaitable[bool]]
