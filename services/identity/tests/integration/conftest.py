"""identity on the real PostgreSQL: a migrated database per xdist worker, emptied before each test
(every table of the models' metadata, so a new table needs no change here).

Servicers are called in-process; the caller is set with `guichet_kit.auth.set_caller`, as the
kit's interceptor does after verifying the forwarded token.

The registers a declared child and a company space's founder are checked against are the real
authentic-data service, started once per session as its own process on a database of its own and
called over mutual TLS with identity's certificate, as in production. What the registers say about
a test's people is put there by `in_registers` (the service's own loader), never by a test.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_authentic_data.registers.loader import (
    CompanyEntry,
    PersonEntry,
    enter_company,
    enter_person,
    household_of,
)
from guichet_identity.authentic_data import AuthenticDataRegisters, authentic_data_channel
from guichet_identity.profile.service import create_profile
from guichet_kit.auth import PRIVATE, ActingContext, LevelOfAssurance, Principal, set_caller
from guichet_kit.db import create_engine, session_factory, transaction
from guichet_kit.national_id import make_national_id
from guichet_testkit import worker_name
from guichet_testkit.db import (
    migrated_database,
    migrated_sessions,
    row_counts,
    service_metadata,
    truncate_tables,
)
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

SERVICE_DIR = Path(__file__).resolve().parents[2]
REPO_ROOT = SERVICE_DIR.parents[1]
TABLES = service_metadata("guichet_identity")
# One declarative base: each database is emptied of the tables it has.
AUTHENTIC_DATA_TABLES = service_metadata("guichet_authentic_data")
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


# ---- the registers (the authentic-data service) ----


@dataclass(frozen=True)
class AuthenticDataServer:
    mtls_address: str
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture(scope="session")
async def authentic_data_server(
    infra: dict[str, str],
) -> AsyncIterator[AuthenticDataServer]:
    """The authentic-data service as its own process, on a database of its own."""
    name = f"identity_test_registers_{worker_name()}"
    service_dir = REPO_ROOT / "services" / "authentic-data"
    pki = Path(infra["GUICHET_PKI_DIR"])
    database_url = await migrated_database(infra, service_dir, name)
    engine = create_engine(database_url)
    try:
        address, mtls_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        env = {
            "AUTHENTIC_DATA_ENVIRONMENT": "test",
            "AUTHENTIC_DATA_DATABASE_URL": database_url,
            "AUTHENTIC_DATA_NATS_URL": infra["GUICHET_NATS_URL"],
            "AUTHENTIC_DATA_GRPC_ADDRESS": address,
            "AUTHENTIC_DATA_MTLS_GRPC_ADDRESS": mtls_address,
            "AUTHENTIC_DATA_TLS_CERTIFICATE": str(pki / "services" / "authentic-data.crt"),
            "AUTHENTIC_DATA_TLS_PRIVATE_KEY": str(pki / "services" / "authentic-data.key"),
            "AUTHENTIC_DATA_PLATFORM_CA": str(pki / "ca.crt"),
            "AUTHENTIC_DATA_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
            "AUTHENTIC_DATA_SEAL_CERTIFICATE": infra["GUICHET_SEAL_CERTIFICATE"],
            "AUTHENTIC_DATA_SEAL_PRIVATE_KEY": infra["GUICHET_SEAL_PRIVATE_KEY"],
            "AUTHENTIC_DATA_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
            "AUTHENTIC_DATA_CA_FILE": infra["GUICHET_CA_FILE"],
            # Only its platform reads are used here: it never needs identity.
            "AUTHENTIC_DATA_IDENTITY_ADDRESS": "127.0.0.1:1",
        }
        process = ServiceProcess(
            f"identity-test-authentic-data-{worker_name()}",
            [sys.executable, "-m", "guichet_authentic_data", "grpc"],
            env,
            REPO_ROOT / ".data" / "log" / "tests",
        )
        process.start()
        try:
            await wait_until(
                lambda: grpc_serving(address), seconds=60, what="authentic-data", process=process
            )
            yield AuthenticDataServer(mtls_address, session_factory(engine))
        finally:
            process.stop()
    finally:
        await engine.dispose()


def registers_at(address: str, infra: dict[str, str]) -> AuthenticDataRegisters:
    """The registers as identity reaches them: mutual TLS with identity's certificate."""
    pki = Path(infra["GUICHET_PKI_DIR"])
    channel = authentic_data_channel(
        address,
        pki / "services" / "identity.crt",
        pki / "services" / "identity.key",
        pki / "ca.crt",
        timeout=10,
    )
    return AuthenticDataRegisters(channel)


@pytest.fixture(scope="session")
def registers(
    authentic_data_server: AuthenticDataServer, infra: dict[str, str]
) -> AuthenticDataRegisters:
    return registers_at(authentic_data_server.mtls_address, infra)


class InRegisters:
    """What the registers say about a test's people: the test asks for a child or a company
    here; the entries are written with the authentic-data service's own loader."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._known: set[str] = set()

    async def enter(self, *entries: PersonEntry | CompanyEntry) -> None:
        async with transaction(self.sessions) as session:
            for entry in entries:
                if isinstance(entry, PersonEntry):
                    await enter_person(session, entry)
                else:
                    await enter_company(session, entry)

    async def person(self, person: Person) -> None:
        if person.national_id not in self._known:
            await self.enter(PersonEntry(person.national_id, person.first_name, person.last_name))
            self._known.add(person.national_id)

    async def child_of(self, parent: Person, born: date, first_name: str = "Lea") -> str:
        """A child of `parent` in the national register: their national id."""
        await self.person(parent)
        child_id = national_id_born(born)
        await self.enter(
            PersonEntry(
                child_id,
                first_name,
                parent.last_name,
                parent_ids=(parent.national_id,),
                household_id=household_of(parent.national_id),
            )
        )
        return child_id

    async def company_run_by(self, number: str, *directors: Person) -> str:
        """Company `number` in the company register, run by `directors`: its number."""
        for director in directors:
            await self.person(director)
        await self.enter(
            CompanyEntry(number, directors=tuple((d.national_id, "manager") for d in directors))
        )
        return number


@pytest.fixture
async def in_registers(authentic_data_server: AuthenticDataServer) -> InRegisters:
    await truncate_tables(authentic_data_server.sessions, AUTHENTIC_DATA_TABLES)
    return InRegisters(authentic_data_server.sessions)
