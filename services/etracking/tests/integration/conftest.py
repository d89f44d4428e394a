"""etracking on the real PostgreSQL: a migrated database per xdist worker, emptied before each test
(every table of the models' metadata).

The rules (`service`, `repository`, `purge`) are called with a session of that database, the
servicers in-process as the gRPC server would call them: a citizen's verified token is set with
`guichet_kit.auth.set_caller`, as the kit's interceptor does; an administration is the common
name of the client certificate its mutual TLS handshake verified (`CertifiedCall`). The handshake
itself, and the servers, are the journeys' business (tests/e2e/test_etracking_administration.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet_etracking.tracking.grpc import AdministrationServicer, TrackingServicer
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.errors import ServiceError
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.mandates import MandateChecker
from guichet_kit.outbox import OutboxMessage
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_sessions, row_counts, service_metadata, truncate_tables

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = service_metadata("guichet_etracking")
PUBLIC_BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture(scope="session")
async def etracking_database(
    infra: dict[str, str],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(infra, SERVICE_DIR, f"etracking_test_{worker_name()}") as sessions:
        yield sessions


@pytest.fixture
async def sessions(
    etracking_database: async_sessionmaker[AsyncSession],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await truncate_tables(etracking_database, TABLES)
    set_caller(None)
    yield etracking_database
    set_caller(None)


@pytest.fixture
def counts(
    sessions: async_sessionmaker[AsyncSession],
) -> Callable[[], Awaitable[dict[str, int]]]:
    """Rows per table (the outbox's too): a refusal must leave them as they were."""
    return lambda: row_counts(sessions, TABLES)


@dataclass(frozen=True)
class Event:
    subject: str
    payload: bytes


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[Event]:
    """The events written so far, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [Event(row.subject, row.payload) for row in rows]


@dataclass
class Wakes:
    """The outbox relay's wake-up: called after a commit that wrote events, and only then."""

    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
async def tracking_servicer(
    sessions: async_sessionmaker[AsyncSession], wakes: Wakes
) -> AsyncIterator[TrackingServicer]:
    # Only a company's or a relation's context asks identity; these tests act in private.
    async with insecure_channel("127.0.0.1:1", timeout=1) as nowhere:
        yield TrackingServicer(
            sessions=sessions,
            public_base_url=PUBLIC_BASE_URL,
            mandates=MandateChecker(nowhere),
            events_written=wakes,
        )


@pytest.fixture
def administration_servicer(
    sessions: async_sessionmaker[AsyncSession], wakes: Wakes
) -> AdministrationServicer:
    return AdministrationServicer(sessions=sessions, events_written=wakes)


@dataclass
class CertifiedCall:
    """The servicer context of a call whose client certificate mutual TLS verified; `None` as
    the name is a call without one (the internal port)."""

    name: str | None
    metadata: list[tuple[str, str]] = field(default_factory=list)

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_common_name": [self.name.encode()]} if self.name else {}

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata


def as_administration(code: str | None) -> Any:
    return CertifiedCall(code)


# The servicers of the public port never read the gRPC context.
NO_CONTEXT: Any = None


def a_citizen(national_id: str = "1980010112345") -> Principal:
    return Principal(
        subject=f"kc-{uuid.uuid4().hex[:8]}",
        level=LevelOfAssurance.LOW,
        national_id=national_id,
        email="anne@example.org",
        name="Anne Muller",
        token="not-checked-in-process",
    )


@pytest.fixture
def signed_in() -> Iterator[Callable[[Principal], None]]:
    """Make a citizen the caller, in their private context."""
    yield set_caller
    set_caller(None)


@dataclass(frozen=True)
class Refused:
    code: grpc.StatusCode
    reason: str


async def refusal(call: Awaitable[object]) -> Refused:
    """What the caller would read from the status of a refused call: its code and reason."""
    with pytest.raises(ServiceError) as refused:
        await call
    return Refused(refused.value.code, refused.value.reason)


def creation(form: str = "ACD-IR-100", **fields: Any) -> pb.CreateTrackingRequest:
    return pb.CreateTrackingRequest(paper_form_code=form, language="en", **fields)
