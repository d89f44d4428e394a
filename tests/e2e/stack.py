"""Helpers shared by the journeys: the stack's addresses, row counts, events on the stream."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from launcher import Launcher, Started
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_testkit import worker_name
from guichet_testkit.db import row_counts, service_metadata
from guichet_testkit.eventually import wait_until

ETRACKING_STREAM = "ETRACKING"
ETRACKING_TABLES = service_metadata("guichet_etracking")


@dataclass(frozen=True)
class Stack:
    gateway_url: str
    etracking_address: str
    admin_address: str
    pki: Path
    database_url: str
    identity_address: str
    identity_database_url: str
    # Authentic data: the gateway's port, the mutual TLS port (services, administrations), its
    # database (the synthetic registers and the access log).
    authentic_data_address: str = ""
    authentic_data_mtls_address: str = ""
    authentic_data_database_url: str = ""
    # Procedures: the gateway's port, the administrations' mutual TLS port, its database.
    procedures_address: str = ""
    procedures_admin_address: str = ""
    procedures_database_url: str = ""
    # Messaging: the administrations' mutual TLS port (exchanges with persons).
    messaging_admin_address: str = ""


class Counts:
    """Rows that a refused request must not have added."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def snapshot(self) -> dict[str, int]:
        """Rows per table of etracking's models (the outbox's too)."""
        return await row_counts(self._engine, ETRACKING_TABLES)


async def stream_position(js: JetStreamContext) -> int:
    return (await js.stream_info(ETRACKING_STREAM)).state.last_seq


async def events_since(js: JetStreamContext, position: int, number: str) -> list[tuple[str, bytes]]:
    """(subject, payload) of the events about `number` published after `position`."""
    last = (await js.stream_info(ETRACKING_STREAM)).state.last_seq
    found = []
    for sequence in range(position + 1, last + 1):
        message = await js.get_msg(ETRACKING_STREAM, sequence)
        event_type = (
            events_pb2.TrackingCreated
            if message.subject.endswith("created.v1")
            else events_pb2.TrackingStatusChanged
        )
        if event_type.FromString(message.data).number == number:
            found.append((message.subject, message.data))
    return found


@contextlib.asynccontextmanager
async def messaging_worker(
    launcher: Launcher,
    database_url: str,
    jetstream: JetStreamContext,
    durables: Sequence[tuple[str, str]],
) -> AsyncIterator[Started]:
    """messaging's worker role (its consumers, delivery worker and outbox relay) beside the
    stack's gRPC role, on the same database, for the journeys that read its mails. Its consumers
    take only what is published once they exist (DeliverPolicy NEW): it waits for `durables`,
    (stream, durable name after the prefix), e.g. ("PROCEDURES", "procedures-submitted"). Every
    durable it made is removed after: the shared NATS server keeps no consumer of a stopped run."""
    name = f"messaging-worker-e2e-{uuid.uuid4().hex[:6]}"
    started = await launcher.messaging(database_url, role="worker", name=name)
    prefix = f"messaging-{name}-{worker_name()}"

    async def consuming() -> bool:
        for stream, durable in durables:
            await jetstream.consumer_info(stream, f"{prefix}-{durable}")
        return True

    try:
        await wait_until(
            consuming, seconds=120, what="messaging's consumers", process=started.process
        )
        yield started
    finally:
        started.process.stop()
        for stream in await jetstream.streams_info():
            for consumer in await jetstream.consumers_info(stream.config.name):
                if consumer.name.startswith(prefix):
                    with contextlib.suppress(NotFoundError):
                        await jetstream.delete_consumer(stream.config.name, consumer.name)
