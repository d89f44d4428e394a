"""The procedures administration API on the running process, over mutual TLS with the development
PKI's administration certificates: who may call it, competence, optimistic concurrency between two
back offices, and the incoming stream resumed from a cursor.

Submitted requests are written into the stack's procedures database as a submission leaves them
(the citizen's journey to a submission is tests/e2e/test_procedures_api.py's business): these
tests are about what an administration can do with them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import grpc
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from stack import Stack

from guichet.events.v1 import procedures_pb2 as events_pb2
from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.errors import read_rpc_failure
from guichet_kit.grpc_client import mutual_tls_channel
from guichet_procedures.requests import repository
from guichet_procedures.requests.models import Request
from guichet_procedures.requests.references import generate_reference
from guichet_testkit.eventually import wait_until

if TYPE_CHECKING:  # the async stub type exists only in the generated .pyi
    AdminStub = pb_grpc.AdministrationProceduresServiceAsyncStub

ADDRESS = "change-of-address"  # the commune's
EXTRACT = "criminal-record-extract"  # justice's
STREAM = "PROCEDURES"


def channel(stack: Stack, code: str, folder: str = "administrations") -> grpc.aio.Channel:
    certificates = stack.pki / folder
    return mutual_tls_channel(
        stack.procedures_admin_address,
        ca=(stack.pki / "ca.crt").read_bytes(),
        certificate=(certificates / f"{code}.crt").read_bytes(),
        private_key=(certificates / f"{code}.key").read_bytes(),
        timeout=20,
    )


@pytest.fixture
async def commune(stack: Stack) -> AsyncIterator[AdminStub]:
    async with channel(stack, "commune") as opened:
        yield pb_grpc.AdministrationProceduresServiceStub(opened)


@pytest.fixture
async def justice(stack: Stack) -> AsyncIterator[AdminStub]:
    async with channel(stack, "justice") as opened:
        yield pb_grpc.AdministrationProceduresServiceStub(opened)


@pytest.fixture(scope="session")
async def procedures_engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(stack.procedures_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def procedures_db(procedures_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(procedures_engine, expire_on_commit=False)


async def submitted(sessions: async_sessionmaker[AsyncSession], code: str = ADDRESS) -> str:
    """A request as its submission leaves it (first status, reference, cursor, history)."""
    now = datetime.now(UTC)
    reference = generate_reference()
    async with sessions.begin() as session:
        procedure = await repository.find_procedure(session, code)
        assert procedure is not None, "the stack publishes the catalogue first"
        owner = f"person:{uuid.uuid4().int % 10**13:013d}"
        request = Request(
            id=uuid.uuid4(),
            reference=reference.canonical,
            procedure_code=code,
            procedure_version=procedure.current_version,
            administration=procedure.administration,
            owner=owner,
            created_by=owner,
            applicant_name="Anne Muller",
            language="fr",
            state="submitted",
            status="received",
            answers={"moving_date": "2026-12-01"},
            completed_steps=[],
            asked_fields=[],
            version=2,
            title=dict(procedure.titles),
            created_at=now,
            updated_at=now,
            submitted_at=now,
            history=[],
        )
        request.incoming_sequence = await repository.next_incoming_sequence(session)
        repository.add_history(request, "submitted", "applicant", now, status="received")
        session.add(request)
    return reference.display


async def state_of(sessions: async_sessionmaker[AsyncSession], reference: str) -> tuple:
    async with sessions() as session:
        row = (
            await session.execute(
                select(Request.status, Request.version, Request.state).where(
                    Request.reference == reference.replace("-", "")
                )
            )
        ).one()
    return tuple(row)


async def test_an_administration_answers_a_request_of_its_competence(
    procedures_db: async_sessionmaker[AsyncSession],
    commune: AdminStub,
    jetstream: JetStreamContext,
) -> None:
    reference = await submitted(procedures_db)
    got = await commune.GetIncomingRequest(pb.GetIncomingRequestRequest(reference=reference))
    assert (got.request.status, got.request.version) == ("received", 2)
    position = (await jetstream.stream_info(STREAM)).state.last_seq

    moved = await commune.ChangeStatus(
        pb.ChangeStatusRequest(
            reference=reference, status="in_review", expected_version=2, comment="On it."
        )
    )
    asked = await commune.AskCorrection(
        pb.AskCorrectionRequest(
            reference=reference,
            field_ids=["moving_date"],
            message="Which day exactly?",
            expected_version=moved.request.version,
        )
    )
    assert asked.request.state == pb.REQUEST_STATE_ACTION_NEEDED
    noted = await commune.AddNote(
        pb.AddNoteRequest(reference=reference, kind=pb.NOTE_KIND_MESSAGE, text="Call us.")
    )
    assert [h.kind for h in noted.request.history] == [
        "submitted",
        "status_changed",
        "correction_asked",
        "message",
    ]
    assert await state_of(procedures_db, reference) == ("correction", 5, "action_needed")

    # The status change reaches the stream through the outbox (for the notification).
    changes: list[events_pb2.RequestStatusChanged] = []

    async def announced() -> bool:
        changes[:] = [
            event
            for event in await events_since(jetstream, position, "status_changed")
            if event.reference == reference.replace("-", "")
        ]
        return bool(changes)

    await wait_until(announced, seconds=30, what="the status change on the stream")
    assert [(c.previous_status, c.status, c.comment, c.notify) for c in changes] == [
        ("received", "in_review", "On it.", False)
    ]
    assert changes[0].status_text == "Le service de la population vérifie votre déclaration."


async def events_since(
    js: JetStreamContext, position: int, kind: str
) -> list[events_pb2.RequestStatusChanged]:
    last = (await js.stream_info(STREAM)).state.last_seq
    found = []
    for sequence in range(position + 1, last + 1):
        message = await js.get_msg(STREAM, sequence)
        if message.subject == f"procedures.request.{kind}.v1":
            found.append(events_pb2.RequestStatusChanged.FromString(message.data))
    return found


async def test_another_administrations_request_is_not_found_and_left_alone(
    procedures_db: async_sessionmaker[AsyncSession], justice: AdminStub
) -> None:
    reference = await submitted(procedures_db)  # the commune's
    for call in (
        justice.GetIncomingRequest(pb.GetIncomingRequestRequest(reference=reference)),
        justice.ChangeStatus(
            pb.ChangeStatusRequest(reference=reference, status="in_review", expected_version=2)
        ),
        justice.AskCorrection(
            pb.AskCorrectionRequest(reference=reference, message="Why?", expected_version=2)
        ),
        justice.AddNote(
            pb.AddNoteRequest(reference=reference, kind=pb.NOTE_KIND_DECISION, text="No.")
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        failure = read_rpc_failure(refused.value)
        assert (failure.code, failure.reason) == (grpc.StatusCode.NOT_FOUND, "REQUEST_NOT_FOUND")
    listed = await justice.ListIncomingRequests(pb.ListIncomingRequestsRequest(page_size=200))
    assert reference not in [r.reference for r in listed.requests]
    assert all(r.procedure_code == EXTRACT for r in listed.requests)
    assert await state_of(procedures_db, reference) == ("received", 2, "submitted")


async def test_callers_without_an_administrations_certificate_are_refused(
    stack: Stack, procedures_db: async_sessionmaker[AsyncSession]
) -> None:
    reference = await submitted(procedures_db)
    asked = pb.GetIncomingRequestRequest(reference=reference)
    # A certificate of another CA, the platform's own service certificate (not an
    # administration's), or none at all: the handshake fails on the mutual TLS port.
    for code, folder in (("acd", "rogue"), ("gateway", "services")):
        async with channel(stack, code, folder) as opened:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await pb_grpc.AdministrationProceduresServiceStub(opened).GetIncomingRequest(asked)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, folder
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(stack.pki / "ca.crt").read_bytes()
    )
    async with grpc.aio.secure_channel(stack.procedures_admin_address, credentials) as opened:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.AdministrationProceduresServiceStub(opened).GetIncomingRequest(
                asked, timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # The internal port (the gateway's) names no administration.
    async with grpc.aio.insecure_channel(stack.procedures_address) as opened:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.AdministrationProceduresServiceStub(opened).GetIncomingRequest(
                asked, timeout=10
            )
        failure = read_rpc_failure(refused.value)
        assert (failure.code, failure.reason) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "CLIENT_CERTIFICATE_REQUIRED",
        )


async def test_two_back_offices_changing_the_same_version_one_wins(
    stack: Stack, procedures_db: async_sessionmaker[AsyncSession]
) -> None:
    reference = await submitted(procedures_db)
    async with channel(stack, "commune") as first, channel(stack, "commune") as second:
        results = await asyncio.gather(
            pb_grpc.AdministrationProceduresServiceStub(first).ChangeStatus(
                pb.ChangeStatusRequest(reference=reference, status="in_review", expected_version=2)
            ),
            pb_grpc.AdministrationProceduresServiceStub(second).ChangeStatus(
                pb.ChangeStatusRequest(reference=reference, status="rejected", expected_version=2)
            ),
            return_exceptions=True,
        )
    won = [r for r in results if isinstance(r, pb.ChangeStatusResponse)]
    lost = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(won) == 1 and len(lost) == 1, results
    failure = read_rpc_failure(lost[0])
    assert (failure.code, failure.reason) == (grpc.StatusCode.ABORTED, "STALE_VERSION")
    assert failure.metadata == {"current_version": "3"}
    assert await state_of(procedures_db, reference) == (
        won[0].request.status,
        3,
        "closed" if won[0].request.state == pb.REQUEST_STATE_CLOSED else "submitted",
    )


async def test_a_stream_resumed_from_a_cursor_gets_exactly_the_later_requests(
    procedures_db: async_sessionmaker[AsyncSession], commune: AdminStub
) -> None:
    earlier = await submitted(procedures_db)
    cursor = (
        await commune.GetIncomingRequest(pb.GetIncomingRequestRequest(reference=earlier))
    ).request.cursor
    later = [await submitted(procedures_db) for _ in range(3)]
    await submitted(procedures_db, EXTRACT)  # justice's: never in the commune's stream

    stream = commune.StreamIncomingRequests(
        pb.StreamIncomingRequestsRequest(after_cursor=cursor, procedure_code=ADDRESS)
    )
    received = [(await stream.read()).request.reference for _ in later]
    assert received == later
    # Then each new submission as it arrives, until the back office hangs up.
    arriving = await submitted(procedures_db)
    assert (await stream.read()).request.reference == arriving
    stream.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stream.read()
