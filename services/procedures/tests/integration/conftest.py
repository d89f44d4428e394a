"""Procedures on the real PostgreSQL: a migrated database per xdist worker, emptied before each
test, with a small catalogue of test definitions published into it; proofs sealed with the
development PKI's platform seal.

The servicers are called in-process as the gRPC server would call them: a citizen's verified
token is set with `guichet_kit.auth.set_caller`, as the kit's interceptor does. The clock of the
rules is a `Clock` the tests move (drafts' expiry).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.auth import ActingContext, LevelOfAssurance, Principal, set_caller
from guichet_kit.errors import ServiceError
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.mandates import MandateChecker
from guichet_kit.national_id import make_national_id
from guichet_kit.outbox import OutboxMessage
from guichet_kit.seal import Sealer
from guichet_procedures.api import wire
from guichet_procedures.api.citizen import ProceduresServicer, RequestRules
from guichet_procedures.definitions.loader import Catalogue, load_catalogue
from guichet_procedures.publishing import publish_directory
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import Request
from guichet_procedures.requests.service import ProofIssuer
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_sessions, row_counts, service_metadata, truncate_tables

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = service_metadata("guichet_procedures")
VERIFY_URL = "https://guichet.example/api/v1/procedures/proofs/verification"

ANNE = make_national_id(date(1980, 1, 1), 101).value
BOB = make_national_id(date(1975, 6, 6), 202).value


def _text(en: str) -> dict[str, str]:
    return {"fr": f"{en} (fr)", "de": f"{en} (de)", "en": en}


STATUSES = [
    {
        "code": "received",
        "text": _text("Received"),
        "notify": True,
        "cancellable": True,
        "next": ["in_review", "correction"],
    },
    {
        "code": "in_review",
        "text": _text("In review"),
        "next": ["correction", "accepted"],
    },
    {
        "code": "correction",
        "text": _text("Correction asked"),
        "notify": True,
        "asks_citizen": True,
        "cancellable": True,
        "next": ["in_review"],
    },
    {"code": "accepted", "text": _text("Accepted"), "notify": True, "end": True},
]

# Three steps: who (with an exit), children (only when there are some), the request itself
# (with a field shown only for one choice).
TEST_FORM: dict[str, Any] = {
    "code": "test-form",
    "version": 1,
    "administration": "commune",
    "theme": "housing",
    "audience": ["citizen"],
    "access": {"login": "required", "level": "low"},
    "channel": "online",
    "title": {"fr": "Déclaration d'essai", "de": "Testmeldung", "en": "Test declaration"},
    "summary": _text("A form for the tests"),
    "keywords": {"fr": ["essai"], "de": ["Test"], "en": ["trial"]},
    "statuses": STATUSES,
    "steps": [
        {
            "id": "about",
            "title": _text("About you"),
            "fields": [
                {"id": "name", "type": "text", "label": _text("Name"), "required": True,
                 "max_length": 50},
                {"id": "has_children", "type": "yes_no", "label": _text("Children?"),
                 "required": True},
            ],
            "exits": [
                {"when": {"eq": [{"field": "name"}, "Nobody"]},
                 "message": _text("Nobody cannot declare anything")},
            ],
        },
        {
            "id": "family",
            "title": _text("Children"),
            "when": {"field": "has_children"},
            "fields": [
                {"id": "children", "type": "group", "label": _text("Children"), "required": True,
                 "min_items": 1, "max_items": 5,
                 "fields": [
                     {"id": "child_name", "type": "text", "label": _text("Child's name"),
                      "required": True},
                 ]},
            ],
        },
        {
            "id": "request",
            "title": _text("Your request"),
            "fields": [
                {"id": "reason", "type": "choice", "label": _text("Reason"), "required": True,
                 "options": [{"value": "moving", "label": _text("Moving")},
                             {"value": "other", "label": _text("Other")}]},
                {"id": "other_reason", "type": "text", "label": _text("Which reason?"),
                 "required": True, "visible": {"eq": [{"field": "reason"}, "other"]}},
                {"id": "moving_date", "type": "date", "label": _text("Moving date"),
                 "required": False},
            ],
        },
    ],
}  # fmt: skip


def _variant(code: str, **changes: Any) -> dict[str, Any]:
    definition = {**TEST_FORM, "code": code, **changes}
    definition["steps"] = [TEST_FORM["steps"][0]]
    return definition


DEFINITIONS = [
    TEST_FORM,
    _variant("test-high", access={"login": "required", "level": "high"}),
    _variant(
        "test-company",
        audience=["company"],
        title=_text("Company registration"),
        keywords={"fr": ["entreprise"], "de": ["Firma"], "en": ["declaration"]},
    ),
    {
        key: value
        for key, value in _variant(
            "test-paper", channel="paper", paper_form="test-paper-form"
        ).items()
        if key not in ("statuses", "steps")
    },
]
THEMES = {"housing": _text("Housing"), "family": _text("Family")}


def write_catalogue(directory: Path, definitions: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "themes.yaml").write_text(
        yaml.safe_dump(THEMES, allow_unicode=True, sort_keys=False)
    )
    for definition in definitions:
        (directory / f"{definition['code']}.yaml").write_text(
            yaml.safe_dump(definition, allow_unicode=True, sort_keys=False)
        )
    return directory


@pytest.fixture(scope="session")
def catalogue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_catalogue(tmp_path_factory.mktemp("catalogue"), DEFINITIONS)


@pytest.fixture(scope="session")
def catalogue(catalogue_dir: Path) -> Catalogue:
    return load_catalogue(catalogue_dir)


@pytest.fixture(scope="session")
async def procedures_database(
    infra: dict[str, str],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    name = f"procedures_test_{worker_name()}"
    async with migrated_sessions(infra, SERVICE_DIR, name) as sessions:
        yield sessions


@pytest.fixture
async def sessions(
    procedures_database: async_sessionmaker[AsyncSession], catalogue_dir: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await truncate_tables(procedures_database, TABLES)
    await publish_directory(procedures_database, catalogue_dir)
    set_caller(None)
    yield procedures_database
    set_caller(None)


@pytest.fixture
def counts(
    sessions: async_sessionmaker[AsyncSession],
) -> Callable[[], Awaitable[dict[str, int]]]:
    """Rows per table (the outbox's too): a refusal must leave them as they were."""
    return lambda: row_counts(sessions, TABLES)


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


@dataclass
class Clock:
    """The rules' clock: now, unless a test moved it."""

    moment: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@dataclass
class Wakes:
    """The outbox relay's wake-up: called after a commit that wrote events, and only then."""

    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def store(catalogue: Catalogue) -> CatalogueStore:
    return CatalogueStore(catalogue.themes)


@pytest.fixture
async def procedures(
    sessions: async_sessionmaker[AsyncSession],
    store: CatalogueStore,
    sealer: Sealer,
    pki: Path,
    clock: Clock,
    wakes: Wakes,
) -> AsyncIterator[ProceduresServicer]:
    rules = RequestRules(
        draft_days=90,
        make_proof=ProofIssuer(sealer, VERIFY_URL, wire.display),
        trust_roots=(pki / "ca.crt",),
        clock=clock,
    )
    # Only a company's or a relation's context asks identity: these tests act in private, and
    # a company context is refused before identity would be asked, or fails to reach it.
    async with insecure_channel("127.0.0.1:1", timeout=1) as nowhere:
        yield ProceduresServicer(sessions, store, MandateChecker(nowhere), rules, wakes)


# ProceduresService never reads the gRPC context.
NO_CONTEXT: Any = None


def citizen(
    national_id: str, level: LevelOfAssurance = LevelOfAssurance.LOW, name: str = "Anne Muller"
) -> Principal:
    return Principal(
        subject=f"kc-{uuid.uuid4().hex[:8]}",
        level=level,
        national_id=national_id,
        email="someone@example.org",
        name=name,
        token="not-checked-in-process",
    )


@pytest.fixture
def signed_in() -> Iterator[Callable[..., Principal]]:
    """Make the person with this national id the caller (in their private context, unless
    `acting` says otherwise)."""

    def sign_in(
        national_id: str,
        level: LevelOfAssurance = LevelOfAssurance.LOW,
        acting: str = "private",
    ) -> Principal:
        principal = citizen(national_id, level)
        set_caller(principal, ActingContext.parse(acting))
        return principal

    yield sign_in
    set_caller(None)


@dataclass(frozen=True)
class Refused:
    code: grpc.StatusCode
    reason: str
    fields: tuple[str, ...] = ()
    message: str = ""


async def refusal(call: Awaitable[object]) -> Refused:
    """What the caller would read from the status of a refused call: its code and reason."""
    with pytest.raises(ServiceError) as refused:
        await call
    error = refused.value
    return Refused(
        error.code,
        error.reason,
        tuple(f.field for f in error.field_errors),
        str(error.message),
    )


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, bytes]]:
    """(subject, payload) of the events written so far, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.subject, row.payload) for row in rows]


async def stored_request(
    sessions: async_sessionmaker[AsyncSession], request_id: str
) -> dict[str, Any]:
    """Every column of the request's row: a refusal must leave it as it was."""
    async with sessions() as session:
        row = await session.get(Request, uuid.UUID(request_id))
        assert row is not None
        return {column.key: getattr(row, column.key) for column in Request.__table__.columns}
