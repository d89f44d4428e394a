"""Helpers shared by the journeys: the stack's addresses, row counts, events on the stream."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_testkit.db import row_counts, service_metadata

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
