"""identity on the real PostgreSQL: a migrated database per xdist worker, emptied before each test
(every table of the models' metadata, so a new table needs no change here).

Servicers are called in-process; the caller is set with `guichet_kit.auth.set_caller`, as the
kit's interceptor does after verifying the forwarded token.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_identity.profile.service import create_profile
from guichet_kit.auth import PRIVATE, ActingContext, LevelOfAssurance, Principal, set_caller
from guichet_kit.db import transaction
from guichet_kit.national_id import make_national_id
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_sessions, row_counts, service_metadata, truncate_tables

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = service_metadata("guichet_identity")
# Servicers here never touch the gRPC context.
NO_CONTEXT: Any = None

_sequences = itertools.count(1)


@pytest.fixture(scope="session")
async def identity_database(
    infra: dict[str, str],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(infra, SERVICE_DIR, f"identity_test_{worker_name()}") as sessions:
        yield sessions


@pytest.fixture
async def identity_sessions(
    identity_database: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    await truncate_tables(identity_database, TABLES)
    set_caller(None)
    return identity_database


@dataclass(frozen=True)
class Person:
    subject: str
    national_id: str
    first_name: str
    last_name: str

    @property
    def principal(self) -> Principal:
        """Signed in with a certificate: every call is allowed its level."""
        return self.at(LevelOfAssurance.HIGH)

    def at(self, level: LevelOfAssurance) -> Principal:
        return Principal(
            subject=self.subject,
            level=level,
            national_id=self.national_id,
            email=f"{self.subject}@example.org",
            name=f"{self.first_name} {self.last_name}",
            token="not-checked-in-process",
        )


def national_id_born(born: date) -> str:
    return make_national_id(born, next(_sequences) % 1000).value


def adult_national_id() -> str:
    return national_id_born(date(1980, 1, 1) + timedelta(days=next(_sequences)))


def act_as(person: Person, context: ActingContext = PRIVATE) -> None:
    set_caller(person.principal, context)


NewPerson = Callable[..., Awaitable[Person]]


@pytest.fixture
def new_person(identity_sessions: async_sessionmaker[AsyncSession]) -> NewPerson:
    """Registers a person (a profile as the AccountService would create it)."""

    async def make(first_name: str = "Anne", last_name: str = "Muller") -> Person:
        person = Person(
            subject=f"kc-{first_name.lower()}-{next(_sequences)}",
            national_id=adult_national_id(),
            first_name=first_name,
            last_name=last_name,
        )
        async with transaction(identity_sessions) as session:
            await create_profile(
                session,
                subject=person.subject,
                national_id=person.national_id,
                email=f"{person.subject}@example.org",
                first_name=first_name,
                last_name=last_name,
                language="fr",
            )
        return person

    return make


class FakeClock:
    """The RelationServicer's clock, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def counts(
    identity_sessions: async_sessionmaker[AsyncSession],
) -> Callable[[], Awaitable[dict[str, int]]]:
    """Rows per table (the outbox's too): a refusal must leave them as they were."""
    return lambda: row_counts(identity_sessions, TABLES)


@pytest.fixture
def born() -> Callable[[date], str]:
    """A valid national identifier of someone born on the given day."""
    return national_id_born
