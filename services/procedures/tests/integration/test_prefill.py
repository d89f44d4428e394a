"""Prefill with provenance and consent (F24) on the real database and the real authentic-data
service: started as its own process on a database of its own and read over mutual TLS with
procedures' service certificate, as in production. What the register says about a test's people
is put there by that service's own loader.

Authentic data grants `procedures:prefill:<code>` only to the catalogue's prefilling procedures
(student-financial-aid: the birth date; change-of-address: the address), so the test forms here
carry those codes. Identity is not running: a profile source answers that it cannot be read.
"""

from __future__ import annotations

import io
import json
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet_authentic_data.access.models import DataAccess
from guichet_authentic_data.registers.loader import PersonEntry, enter_person
from guichet_kit.db import create_engine, session_factory, transaction
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.mandates import MandateChecker
from guichet_kit.national_id import make_national_id
from guichet_kit.seal import Sealer
from guichet_procedures.api import wire
from guichet_procedures.api.citizen import ProceduresServicer, RequestRules
from guichet_procedures.api.registers import PrefillSources, authentic_data_channel
from guichet_procedures.publishing import publish_directory
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.models import Request
from guichet_procedures.requests.service import ProofIssuer
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database, service_metadata, truncate_tables
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

from .conftest import (
    ANNE,
    BOB,
    DEFINITIONS,
    NO_CONTEXT,
    STATUSES,
    VERIFY_URL,
    Clock,
    Wakes,
    _text,
    refusal,
    stored_request,
    write_catalogue,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
AUTHENTIC_DATA_TABLES = service_metadata("guichet_authentic_data")
ANNE_BORN = "1980-01-01"  # from her national id
NATIONAL_REGISTER = "National register of natural persons"
NOBODY = make_national_id(date(1990, 3, 3), 303).value  # not in the register


def _form(code: str, steps: list[dict[str, Any]], level: str = "low") -> dict[str, Any]:
    return {
        "code": code,
        "version": 1,
        "administration": "cedies",
        "theme": "family",
        "audience": ["citizen"],
        "access": {"login": "required", "level": level},
        "channel": "online",
        "title": _text(f"Prefilled {code}"),
        "summary": _text("A form prefilled from the register"),
        "statuses": STATUSES,
        "steps": steps,
    }


STUDENT = "student-financial-aid"
ADDRESS = "change-of-address"
PROFILE_ONLY = "test-profile"
PREFILLED = [
    _form(
        STUDENT,
        [
            {
                "id": "student",
                "title": _text("The student"),
                "fields": [
                    {"id": "birth_date", "type": "date", "label": _text("Date of birth"),
                     "required": True, "source": {"register": "person.birth_date"},
                     "locked": True},
                    {"id": "name", "type": "text", "label": _text("Name"), "required": True},
                ],
            },
            {
                "id": "studies",
                "title": _text("The studies"),
                "fields": [
                    {"id": "institution", "type": "text", "label": _text("Institution"),
                     "required": True},
                ],
            },
        ],
    ),
    _form(
        ADDRESS,
        [
            {
                "id": "move",
                "title": _text("The move"),
                "fields": [
                    {"id": "previous_address", "type": "address",
                     "label": _text("Previous address"), "required": True,
                     "source": {"register": "person.address"}},
                ],
            },
        ],
    ),
    _form(
        PROFILE_ONLY,
        [
            {
                "id": "contact",
                "title": _text("Contact"),
                "fields": [
                    {"id": "email", "type": "email", "label": _text("E-mail"), "required": True,
                     "source": {"profile": "email"}},
                ],
            },
        ],
    ),
]  # fmt: skip


@dataclass(frozen=True)
class Registers:
    mtls_address: str
    sessions: async_sessionmaker[AsyncSession]

    async def enter(self, national_id: str, **details: Any) -> None:
        async with transaction(self.sessions) as session:
            await enter_person(session, PersonEntry(national_id, **details))

    async def reads_of(self, national_id: str) -> list[DataAccess]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(DataAccess)
                .where(DataAccess.subject == f"person:{national_id}")
                .order_by(DataAccess.id)
            )
            return list(rows)


@pytest.fixture(scope="module")
async def registers_server(infra: dict[str, str]) -> AsyncIterator[Registers]:
    """The authentic-data service as its own process, on a database of its own."""
    service_dir = REPO_ROOT / "services" / "authentic-data"
    pki = Path(infra["GUICHET_PKI_DIR"])
    database_url = await migrated_database(
        infra, service_dir, f"procedures_test_registers_{worker_name()}"
    )
    engine = create_engine(database_url)
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
        f"procedures-test-authentic-data-{worker_name()}",
        [sys.executable, "-m", "guichet_authentic_data", "grpc"],
        env,
        REPO_ROOT / ".data" / "log" / "tests",
    )
    process.start()
    try:
        await wait_until(
            lambda: grpc_serving(address), seconds=60, what="authentic-data", process=process
        )
        yield Registers(mtls_address, session_factory(engine))
    finally:
        process.stop()
        await engine.dispose()


@pytest.fixture
async def registers(registers_server: Registers) -> Registers:
    await truncate_tables(registers_server.sessions, AUTHENTIC_DATA_TABLES)
    await registers_server.enter(ANNE)  # Anne Muller, born on 1 January 1980
    return registers_server


def _procedures(
    sessions: async_sessionmaker[AsyncSession],
    store: CatalogueStore,
    sealer: Sealer,
    pki: Path,
    clock: Clock,
    wakes: Wakes,
    registers_address: str,
    nowhere: grpc.aio.Channel,
) -> ProceduresServicer:
    channel = authentic_data_channel(
        registers_address,
        pki / "services" / "procedures.crt",
        pki / "services" / "procedures.key",
        pki / "ca.crt",
        timeout=10,
    )
    rules = RequestRules(
        draft_days=90,
        make_proof=ProofIssuer(sealer, VERIFY_URL, wire.display),
        trust_roots=(pki / "ca.crt",),
        clock=clock,
        prefill_sources=PrefillSources(channel, nowhere, clock),
    )
    return ProceduresServicer(sessions, store, MandateChecker(nowhere), rules, wakes)


@pytest.fixture
async def published(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> async_sessionmaker[AsyncSession]:
    await publish_directory(
        sessions, write_catalogue(tmp_path / "catalogue", DEFINITIONS + PREFILLED)
    )
    return sessions


@pytest.fixture
async def prefilling(
    published, store, sealer, pki, clock, wakes, registers
) -> AsyncIterator[ProceduresServicer]:
    # Identity is not running: nothing listens at port 1.
    async with insecure_channel("127.0.0.1:1", timeout=1) as nowhere:
        yield _procedures(
            published, store, sealer, pki, clock, wakes, registers.mtls_address, nowhere
        )


@pytest.fixture
async def registers_down(
    published, store, sealer, pki, clock, wakes
) -> AsyncIterator[ProceduresServicer]:
    async with insecure_channel("127.0.0.1:1", timeout=1) as nowhere:
        yield _procedures(
            published, store, sealer, pki, clock, wakes, f"127.0.0.1:{free_port()}", nowhere
        )


async def _start(procedures: ProceduresServicer, code: str) -> pb.Request:
    reply = await procedures.StartDraft(
        pb.StartDraftRequest(procedure_code=code, language="en"), NO_CONTEXT
    )
    return reply.request


async def _save(
    procedures: ProceduresServicer, request_id: str, step: str, answers: dict[str, Any]
) -> pb.Request:
    reply = await procedures.SaveStep(
        pb.SaveStepRequest(
            request_id=request_id, step_id=step, answers_json=json.dumps(answers), language="en"
        ),
        NO_CONTEXT,
    )
    return reply.request


async def _preview(procedures: ProceduresServicer, request_id: str) -> list[pb.PrefilledField]:
    reply = await procedures.PreviewPrefill(
        pb.PreviewPrefillRequest(request_id=request_id, language="en"), NO_CONTEXT
    )
    return list(reply.fields)


async def _decide(procedures: ProceduresServicer, request_id: str, accept: bool) -> pb.Request:
    reply = await procedures.ConsentPrefill(
        pb.ConsentPrefillRequest(request_id=request_id, accept=accept, language="en"), NO_CONTEXT
    )
    return reply.request


async def _submit(procedures: ProceduresServicer, request_id: str) -> pb.Request:
    reply = await procedures.SubmitRequest(
        pb.SubmitRequestRequest(
            request_id=request_id, idempotency_key=uuid.uuid4().hex, language="en"
        ),
        NO_CONTEXT,
    )
    return reply.request


async def test_the_preview_says_what_from_where_and_when_writes_nothing_and_is_in_the_log(
    prefilling, signed_in: Callable[..., Any], registers, published, clock
) -> None:
    signed_in(ANNE)
    draft = await _start(prefilling, STUDENT)
    before = await stored_request(published, draft.id)
    asked = datetime.now(UTC)

    [field] = await _preview(prefilling, draft.id)

    assert (field.field_id, field.label, field.source, field.source_name) == (
        "birth_date",
        "Date of birth",
        "register",
        NATIONAL_REGISTER,
    )
    assert (field.value_display, json.loads(field.value_json)) == ("January 1, 1980", ANNE_BORN)
    assert field.locked and field.available
    assert asked <= field.read_at.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)
    assert await stored_request(published, draft.id) == before
    [read] = await registers.reads_of(ANNE)
    assert (read.accessor_kind, read.accessor, read.purpose) == (
        "platform_service",
        "procedures",
        f"procedures:prefill:{STUDENT}",
    )
    assert list(read.fields) == ["person.birth_date"]
    assert read.request_reference == f"procedures:{draft.id}"


async def test_accepted_the_values_are_read_again_written_and_the_consent_recorded(
    prefilling, signed_in: Callable[..., Any], registers, published, clock
) -> None:
    principal = signed_in(ANNE)
    draft = await _start(prefilling, STUDENT)

    decided = await _decide(prefilling, draft.id, accept=True)

    assert json.loads(decided.answers_json) == {"birth_date": ANNE_BORN}
    assert decided.prefill_decision == "accepted"
    [shown] = decided.prefilled
    assert (shown.field_id, shown.source, shown.source_name, shown.locked) == (
        "birth_date",
        "register",
        NATIONAL_REGISTER,
        True,
    )
    row = await stored_request(published, draft.id)
    record = row["prefill"]
    assert (record["decision"], record["decided_by"]) == ("accepted", principal.person)
    assert record["decided_at"] == clock().isoformat()
    [item] = record["fields"]
    assert (item["field"], item["source"], item["name"], item["source_code"]) == (
        "birth_date",
        "register",
        "person.birth_date",
        "national-register",
    )
    assert (item["value"], item["locked"]) == (ANNE_BORN, True)
    assert len(await registers.reads_of(ANNE)) == 1


async def test_a_locked_value_changed_or_cleared_is_refused_and_nothing_changes(
    prefilling, signed_in: Callable[..., Any], registers, published
) -> None:
    signed_in(ANNE)
    draft = await _start(prefilling, STUDENT)
    await _decide(prefilling, draft.id, accept=True)
    before = await stored_request(published, draft.id)

    for changed in ("1990-05-05", None, ""):
        refused = await refusal(
            _save(prefilling, draft.id, "student", {"birth_date": changed, "name": "Anne"})
        )
        assert (refused.code, refused.reason, refused.fields) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "FIELD_LOCKED",
            ("birth_date",),
        )
        assert await stored_request(published, draft.id) == before

    # Sent as it is, or left out (the server keeps it), the step is saved.
    saved = await _save(prefilling, draft.id, "student", {"birth_date": ANNE_BORN, "name": "A"})
    assert json.loads(saved.answers_json)["birth_date"] == ANNE_BORN
    saved = await _save(prefilling, draft.id, "student", {"name": "Anne Muller"})
    assert json.loads(saved.answers_json) == {"birth_date": ANNE_BORN, "name": "Anne Muller"}
    assert (saved.steps[0].id, saved.steps[0].complete) == ("student", True)


async def test_submission_needs_the_decision_and_rechecks_locked_values_and_the_proof_names_sources(
    prefilling, signed_in: Callable[..., Any], registers, published
) -> None:
    signed_in(ANNE)
    draft = await _start(prefilling, STUDENT)
    await _save(prefilling, draft.id, "student", {"birth_date": ANNE_BORN, "name": "Anne"})
    await _save(prefilling, draft.id, "studies", {"institution": "Uni.lu"})
    before = await stored_request(published, draft.id)

    refused = await refusal(_submit(prefilling, draft.id))

    assert (refused.code, refused.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "PREFILL_CONSENT_MISSING",
    )
    assert await stored_request(published, draft.id) == before

    await _decide(prefilling, draft.id, accept=True)
    # A locked value changed behind the rules' back (as a bug or a bypass would) is caught.
    async with published() as session, session.begin():
        await session.execute(
            update(Request)
            .where(Request.id == uuid.UUID(draft.id))
            .values(answers={"birth_date": "1999-09-09", "name": "Anne", "institution": "Uni.lu"})
        )
    tampered = await stored_request(published, draft.id)
    refused = await refusal(_submit(prefilling, draft.id))
    assert (refused.code, refused.reason, refused.fields) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "FIELD_LOCKED",
        ("birth_date",),
    )
    assert await stored_request(published, draft.id) == tampered

    async with published() as session, session.begin():
        await session.execute(
            update(Request)
            .where(Request.id == uuid.UUID(draft.id))
            .values(answers={"birth_date": ANNE_BORN, "name": "Anne", "institution": "Uni.lu"})
        )
    submitted = await _submit(prefilling, draft.id)
    assert submitted.state == pb.REQUEST_STATE_SUBMITTED
    assert [f.field_id for f in submitted.prefilled] == ["birth_date"]
    proof = await prefilling.GetProof(pb.GetProofRequest(request_id=draft.id), NO_CONTEXT)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(proof.pdf)).pages)
    flat = " ".join(text.split())
    assert "Prefilled answers and their sources" in flat
    assert f"{NATIONAL_REGISTER}, read on" in flat and "(locked)" in flat


async def test_refused_nothing_is_read_or_filled_and_the_form_is_filled_by_hand(
    prefilling, signed_in: Callable[..., Any], registers, published
) -> None:
    principal = signed_in(ANNE)
    draft = await _start(prefilling, STUDENT)

    decided = await _decide(prefilling, draft.id, accept=False)

    assert json.loads(decided.answers_json) == {}
    assert (decided.prefill_decision, list(decided.prefilled)) == ("refused", [])
    record = (await stored_request(published, draft.id))["prefill"]
    assert (record["decision"], record["decided_by"], record["fields"]) == (
        "refused",
        principal.person,
        [],
    )
    assert await registers.reads_of(ANNE) == []
    # By hand, the value is the person's: not locked, and submitted without a source.
    await _save(prefilling, draft.id, "student", {"birth_date": "1981-02-02", "name": "Anne"})
    await _save(prefilling, draft.id, "studies", {"institution": "Uni.lu"})
    submitted = await _submit(prefilling, draft.id)
    assert submitted.state == pb.REQUEST_STATE_SUBMITTED
    assert list(submitted.prefilled) == []


async def test_an_unlocked_prefilled_value_changed_by_hand_loses_its_source(
    prefilling, signed_in: Callable[..., Any], registers
) -> None:
    signed_in(ANNE)
    draft = await _start(prefilling, ADDRESS)
    decided = await _decide(prefilling, draft.id, accept=True)
    assert json.loads(decided.answers_json)["previous_address"]["country"] == "LU"
    assert [(f.field_id, f.locked) for f in decided.prefilled] == [("previous_address", False)]

    moved = {
        "street": "Rue Haute",
        "house_number": "3",
        "postcode": "9053",
        "locality": "Ettelbruck",
        "country": "LU",
    }
    saved = await _save(prefilling, draft.id, "move", {"previous_address": moved})

    assert json.loads(saved.answers_json)["previous_address"] == moved
    assert list(saved.prefilled) == []
    [read] = await registers.reads_of(ANNE)
    assert (read.purpose, list(read.fields)) == (
        f"procedures:prefill:{ADDRESS}",
        ["person.address"],
    )


async def test_someone_the_register_does_not_know_gets_nothing_to_prefill(
    prefilling, signed_in: Callable[..., Any], registers
) -> None:
    signed_in(NOBODY)
    draft = await _start(prefilling, STUDENT)

    [field] = await _preview(prefilling, draft.id)
    decided = await _decide(prefilling, draft.id, accept=True)

    assert (field.available, field.value_json, field.value_display) == (False, "", "")
    assert json.loads(decided.answers_json) == {}
    assert list(decided.prefilled) == []


async def test_with_the_registers_down_the_calls_are_refused_and_nothing_is_written(
    registers_down, signed_in: Callable[..., Any], published, counts
) -> None:
    signed_in(ANNE)
    draft = await _start(registers_down, STUDENT)
    before = await counts()
    row = await stored_request(published, draft.id)

    for call in (_preview(registers_down, draft.id), _decide(registers_down, draft.id, True)):
        refused = await refusal(call)
        assert (refused.code, refused.reason) == (
            grpc.StatusCode.UNAVAILABLE,
            "REGISTERS_UNAVAILABLE",
        )
    assert await counts() == before
    assert await stored_request(published, draft.id) == row


async def test_with_the_profile_unreadable_the_consent_is_refused_and_nothing_written(
    prefilling, signed_in: Callable[..., Any], published
) -> None:
    signed_in(ANNE)
    draft = await _start(prefilling, PROFILE_ONLY)
    row = await stored_request(published, draft.id)

    refused = await refusal(_decide(prefilling, draft.id, True))

    assert (refused.code, refused.reason) == (grpc.StatusCode.UNAVAILABLE, "PROFILE_UNAVAILABLE")
    assert await stored_request(published, draft.id) == row


async def test_bad_calls_are_refused_and_change_nothing(
    prefilling, signed_in: Callable[..., Any], registers, published, counts
) -> None:
    signed_in(ANNE)
    plain = await _start(prefilling, "test-form")
    student = await _start(prefilling, STUDENT)
    before = await counts()

    failed, invalid, unknown = (
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
    )
    cases = [
        (_decide(prefilling, plain.id, True), failed, "NOTHING_TO_PREFILL"),
        (_preview(prefilling, "not-an-id"), invalid, "INVALID_REQUEST_ID"),
        (_preview(prefilling, str(uuid.uuid4())), unknown, "REQUEST_NOT_FOUND"),
    ]
    for call, code, reason in cases:
        refused = await refusal(call)
        assert (refused.code, refused.reason) == (code, reason)
    # Another person's draft is unknown to Bob; nothing is read about Anne for him.
    signed_in(BOB)
    for call in (_preview(prefilling, student.id), _decide(prefilling, student.id, True)):
        refused = await refusal(call)
        assert (refused.code, refused.reason) == (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")
    assert await counts() == before
    assert await registers.reads_of(ANNE) == []

    # A submitted request is no longer prefilled.
    signed_in(ANNE)
    await _decide(prefilling, student.id, accept=False)
    await _save(prefilling, student.id, "student", {"birth_date": ANNE_BORN, "name": "Anne"})
    await _save(prefilling, student.id, "studies", {"institution": "Uni.lu"})
    await _submit(prefilling, student.id)
    refused = await refusal(_decide(prefilling, student.id, True))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_A_DRAFT")
