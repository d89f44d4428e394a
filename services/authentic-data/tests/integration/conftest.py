"""authentic-data on the real PostgreSQL: a migrated database per xdist worker, emptied before each
test (every table of the models' metadata).

The rules are called with a session of that database and the servicers in-process, as the gRPC
server would call them: a citizen's verified token is set with `guichet_kit.auth.set_caller`, as
the kit's interceptor does; a platform service or an administration is the certificate its mutual
TLS handshake verified (`Certified`, with the real PEM files of the development PKI). The
handshakes themselves are tested against a started process (test_mutual_tls.py).

Register entries for a given person come from `guichet_authentic_data.registers.loader`
(`enter_person`, `enter_company`), called directly on the database, as any test may do.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_authentic_data.access.models import DataAccess
from guichet_authentic_data.api.citizen import MyDataServicer, SpaceDirectory
from guichet_authentic_data.api.peers import Authorities
from guichet_authentic_data.api.reads import AdministrationDataServicer, PlatformDataServicer
from guichet_authentic_data.api.verification import VerificationServicer
from guichet_authentic_data.registers.loader import PersonEntry, enter_person
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.db import transaction
from guichet_kit.errors import ServiceError
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.mandates import MandateChecker
from guichet_kit.national_id import make_national_id
from guichet_kit.outbox import OutboxMessage
from guichet_kit.seal import Sealer
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_sessions, row_counts, service_metadata, truncate_tables

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = service_metadata("guichet_authentic_data")
PUBLIC_BASE_URL = "http://127.0.0.1:8000"


def nid(year: int, month: int, day: int, sequence: int) -> str:
    return make_national_id(date(year, month, day), sequence).value


ANNE = nid(1980, 1, 1, 123)
PAUL = nid(1978, 5, 17, 42)
LEA = nid(2015, 9, 3, 7)
BOB = nid(1975, 6, 6, 1)
# A valid national id nobody holds in the tests' registers.
NOBODY = nid(1999, 12, 31, 456)


@pytest.fixture(scope="session")
async def authentic_database(
    infra: dict[str, str],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    name = f"authentic_data_test_{worker_name()}"
    async with migrated_sessions(infra, SERVICE_DIR, name) as sessions:
        yield sessions


@pytest.fixture
async def sessions(
    authentic_database: async_sessionmaker[AsyncSession],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await truncate_tables(authentic_database, TABLES)
    set_caller(None)
    yield authentic_database
    set_caller(None)


@pytest.fixture
def counts(
    sessions: async_sessionmaker[AsyncSession],
) -> Callable[[], Awaitable[dict[str, int]]]:
    """Rows per table (the access log's and the outbox's too): a refusal leaves them unchanged."""
    return lambda: row_counts(sessions, TABLES)


async def log_entries(sessions: async_sessionmaker[AsyncSession]) -> list[DataAccess]:
    async with sessions() as session:
        return list(await session.scalars(select(DataAccess).order_by(DataAccess.id)))


async def log_size(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(DataAccess)) or 0)


@dataclass(frozen=True)
class Event:
    subject: str
    payload: bytes


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[Event]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [Event(row.subject, row.payload) for row in rows]


@pytest.fixture
async def family(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Anne and Paul, married, with their daughter Léa in one household; Bob alone elsewhere."""
    household = 77
    async with transaction(sessions) as session:
        for entry in (
            PersonEntry(
                ANNE,
                "Anne",
                "Muller",
                marital_status="married",
                spouse_id=PAUL,
                household_id=household,
                licence_points=9,
                tax_credit_used_cents=1_250_000,
            ),
            PersonEntry(
                PAUL,
                "Paul",
                "Schmit",
                sex="M",
                marital_status="married",
                spouse_id=ANNE,
                household_id=household,
            ),
            PersonEntry(LEA, "Léa", "Schmit", parent_ids=(PAUL, ANNE), household_id=household),
            PersonEntry(BOB, "Bob", "Weber", sex="M", birth_place="Esch-sur-Alzette"),
        ):
            await enter_person(session, entry)


@pytest.fixture(scope="session")
def pki(infra: dict[str, str]) -> Path:
    return Path(infra["GUICHET_PKI_DIR"])


@pytest.fixture(scope="session")
def sealer(infra: dict[str, str], pki: Path) -> Sealer:
    return Sealer(
        Path(infra["GUICHET_SEAL_CERTIFICATE"]),
        Path(infra["GUICHET_SEAL_PRIVATE_KEY"]),
        chain=(pki / "ca.crt",),
    )


@pytest.fixture(scope="session")
def authorities(pki: Path) -> Authorities:
    return Authorities(pki / "ca.crt", pki / "administrations" / "ca.crt")


@dataclass
class Wakes:
    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
async def my_data(
    sessions: async_sessionmaker[AsyncSession], sealer: Sealer, wakes: Wakes
) -> AsyncIterator[MyDataServicer]:
    # Only a company's or a relation's context asks identity; tests of those run identity.
    async with insecure_channel("127.0.0.1:1", timeout=1) as nowhere:
        yield MyDataServicer(
            sessions,
            wakes,
            mandates=MandateChecker(nowhere),
            spaces=SpaceDirectory(nowhere),
            sealer=sealer,
            public_base_url=PUBLIC_BASE_URL,
        )


@pytest.fixture
def platform_reads(
    sessions: async_sessionmaker[AsyncSession], authorities: Authorities
) -> PlatformDataServicer:
    return PlatformDataServicer(sessions, authorities)


@pytest.fixture
def administration_reads(
    sessions: async_sessionmaker[AsyncSession], authorities: Authorities
) -> AdministrationDataServicer:
    return AdministrationDataServicer(sessions, authorities)


@pytest.fixture
def verification(sessions: async_sessionmaker[AsyncSession]) -> VerificationServicer:
    return VerificationServicer(sessions, public_base_url=PUBLIC_BASE_URL)


@dataclass
class Certified:
    """The servicer context of a call whose client certificate mutual TLS verified (the auth
    context gRPC gives: common name and PEM); no certificate is the internal port."""

    certificate: Path | None
    metadata: list[tuple[str, str]] = field(default_factory=list)

    def auth_context(self) -> dict[str, list[bytes]]:
        if self.certificate is None:
            return {}
        pem = self.certificate.read_bytes()
        name = (
            x509.load_pem_x509_certificate(pem)
            .subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]
            .value
        )
        return {"x509_common_name": [str(name).encode()], "x509_pem_cert": [pem]}

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata


def certified(path: Path | None) -> Any:
    return Certified(path)


NO_CONTEXT: Any = None


def a_citizen(national_id: str = ANNE) -> Principal:
    return Principal(
        subject=f"kc-{uuid.uuid4().hex[:8]}",
        level=LevelOfAssurance.LOW,
        national_id=national_id,
        email="anne@example.org",
        name="Anne Muller",
        token="not-checked-in-process",
    )


@pytest.fixture
def signed_in() -> Iterator[Callable[..., None]]:
    """Make a citizen the caller, in their private context (or the context given)."""
    yield set_caller
    set_caller(None)


@dataclass(frozen=True)
class Refused:
    code: grpc.StatusCode
    reason: str
    fields: list[str]


async def refusal(call: Awaitable[object]) -> Refused:
    with pytest.raises(ServiceError) as refused:
        await call
    error = refused.value
    return Refused(error.code, error.reason, [item.field for item in error.field_errors])
