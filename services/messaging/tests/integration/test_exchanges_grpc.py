"""Exchanges over gRPC: the person's ExchangeService in process (as the gateway calls it, with the
caller set), the administrations' AdministrationMessagingService on a started messaging process
over mutual TLS with their certificates — the journey, and each refusal with nothing changed."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.messaging.v1 import exchanges_pb2 as pb
from guichet.messaging.v1 import exchanges_pb2_grpc as pb_grpc
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.db import create_engine, session_factory
from guichet_kit.errors import ServiceError, read_rpc_failure
from guichet_messaging.exchanges.grpc import ExchangeServicer
from guichet_messaging.exchanges.models import ExchangeMessage, ExchangeThread
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_database, service_metadata, truncate_tables
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import ServiceProcess, free_port, grpc_serving

REPO_ROOT = Path(__file__).resolve().parents[4]
SERVICE_DIR = REPO_ROOT / "services" / "messaging"
TABLES = service_metadata("guichet_messaging")
ANNE, BOB = "1980010112345", "1975060600123"
NO_CONTEXT: Any = None


@dataclass
class Server:
    admin_address: str
    pki: Path
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
async def server(infra: dict[str, str]) -> AsyncIterator[Server]:
    pki = Path(infra["GUICHET_PKI_DIR"])
    url = await migrated_database(infra, SERVICE_DIR, f"exch_test_messaging_{worker_name()}")
    address, admin_address = (f"127.0.0.1:{free_port()}" for _ in range(2))
    process = ServiceProcess(
        f"exch-test-messaging-{uuid.uuid4().hex[:6]}",
        [sys.executable, "-m", "guichet_messaging", "grpc"],
        {
            "MESSAGING_ENVIRONMENT": "test",
            "MESSAGING_DATABASE_URL": url,
            "MESSAGING_NATS_URL": infra["GUICHET_NATS_URL"],
            "MESSAGING_GRPC_ADDRESS": address,
            "MESSAGING_ADMIN_GRPC_ADDRESS": admin_address,
            "MESSAGING_TLS_CERTIFICATE": str(pki / "services" / "messaging.crt"),
            "MESSAGING_TLS_PRIVATE_KEY": str(pki / "services" / "messaging.key"),
            "MESSAGING_ADMINISTRATIONS_CA": str(pki / "administrations" / "ca.crt"),
            "MESSAGING_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
            "MESSAGING_CA_FILE": infra["GUICHET_CA_FILE"],
        },
        REPO_ROOT / ".data" / "log" / "tests",
    )
    process.start()
    engine = create_engine(url)
    try:
        await wait_until(
            lambda: grpc_serving(address), seconds=60, what="messaging", process=process
        )
        yield Server(admin_address, pki, session_factory(engine))
    finally:
        process.stop()
        await engine.dispose()


@pytest.fixture
async def fresh(server: Server) -> Server:
    await truncate_tables(server.sessions, TABLES)
    set_caller(None)
    return server


def person(national_id: str) -> Principal:
    return Principal(
        subject=f"kc-{uuid.uuid4().hex[:8]}",
        level=LevelOfAssurance.LOW,
        national_id=national_id,
        email="anne@example.org",
        name="Anne Muller",
        token="not-checked-in-process",
    )


def administration(server: Server, code: str) -> pb_grpc.AdministrationMessagingServiceAsyncStub:
    pki = server.pki
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(pki / "ca.crt").read_bytes(),
        private_key=(pki / "administrations" / f"{code}.key").read_bytes(),
        certificate_chain=(pki / "administrations" / f"{code}.crt").read_bytes(),
    )
    channel = grpc.aio.secure_channel(server.admin_address, credentials)
    return pb_grpc.AdministrationMessagingServiceStub(channel)


MESSAGE = pb.SendMessageRequest(
    theme="taxes",
    subject="income-tax",
    reason="tax-assessment",
    title="My 2025 assessment",
    body="When will my 2025 assessment be sent?",
)


async def _send(servicer: ExchangeServicer, who: str = ANNE) -> pb.Thread:
    set_caller(person(who))
    reply = await servicer.SendMessage(MESSAGE, NO_CONTEXT)
    return reply.thread


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session:
        threads = await session.scalar(select(func.count()).select_from(ExchangeThread))
        messages = await session.scalar(select(func.count()).select_from(ExchangeMessage))
        return threads or 0, messages or 0


async def test_the_person_writes_the_administration_answers_over_mutual_tls(fresh: Server) -> None:
    servicer = ExchangeServicer(fresh.sessions)
    set_caller(person(ANNE))
    topics = await servicer.ListTopics(pb.ListTopicsRequest(), NO_CONTEXT)
    reasons = {r.key: r for t in topics.themes for s in t.subjects for r in s.reasons}
    assert (reasons["tax-return"].administration, reasons["tax-return"].procedure) == (
        "acd",
        "income-tax-return",
    )
    thread = await _send(servicer)
    # In the caller's language (French unless the call says otherwise).
    assert (thread.administration, thread.reason_title) == ("acd", "Mon bulletin d'impôt")

    acd = administration(fresh, "acd")
    listed = await acd.ListThreads(pb.ListThreadsRequest())
    assert [(t.id, t.unread) for t in listed.threads] == [(thread.id, 1)]
    read = await acd.GetThread(pb.GetThreadRequest(thread_id=thread.id))
    assert [m.body for m in read.messages] == [MESSAGE.body]
    await acd.AnswerThread(
        pb.AnswerThreadRequest(thread_id=thread.id, body="It was sent on 20 November.")
    )

    set_caller(person(ANNE))
    mine = await servicer.ListMyThreads(pb.ListMyThreadsRequest(), NO_CONTEXT)
    assert [(t.id, t.unread) for t in mine.threads] == [(thread.id, 1)]
    opened = await servicer.GetMyThread(
        pb.GetMyThreadRequest(thread_id=thread.id),
        NO_CONTEXT,
    )
    assert [m.side for m in opened.messages] == [pb.SIDE_PERSON, pb.SIDE_ADMINISTRATION]
    mine = await servicer.ListMyThreads(pb.ListMyThreadsRequest(), NO_CONTEXT)
    assert [t.unread for t in mine.threads] == [0]
    await servicer.MarkMyThread(
        pb.MarkMyThreadRequest(thread_id=thread.id, read=False),
        NO_CONTEXT,
    )
    await servicer.HideMyThread(
        pb.HideMyThreadRequest(thread_id=thread.id, hidden=True),
        NO_CONTEXT,
    )
    hidden = await servicer.ListMyThreads(
        pb.ListMyThreadsRequest(hidden=True),
        NO_CONTEXT,
    )
    assert [(t.id, t.unread, t.hidden) for t in hidden.threads] == [(thread.id, 1, True)]


async def test_another_administration_may_not_read_or_answer(fresh: Server) -> None:
    thread = await _send(ExchangeServicer(fresh.sessions))
    ccss = administration(fresh, "ccss")
    assert list((await ccss.ListThreads(pb.ListThreadsRequest())).threads) == []
    for call in (
        ccss.GetThread(pb.GetThreadRequest(thread_id=thread.id)),
        ccss.AnswerThread(pb.AnswerThreadRequest(thread_id=thread.id, body="Not ours at all.")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        failure = read_rpc_failure(refused.value)
        assert (failure.code, failure.reason) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "OUTSIDE_COMPETENCE",
        )
    assert await _counts(fresh.sessions) == (1, 1)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await ccss.GetThread(pb.GetThreadRequest(thread_id="not-an-id"))
    assert read_rpc_failure(unknown.value).reason == "NO_SUCH_THREAD"


async def test_a_bad_message_and_another_persons_thread_are_refused(fresh: Server) -> None:
    servicer = ExchangeServicer(fresh.sessions)
    set_caller(person(ANNE))
    bad = pb.SendMessageRequest(
        theme="taxes", subject="income-tax", reason="nope", title="", body="x" * 751
    )
    with pytest.raises(ServiceError) as refused:
        await servicer.SendMessage(bad, NO_CONTEXT)
    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_FAILED",
    )
    assert [e.field for e in refused.value.field_errors] == ["reason", "title", "body"]
    assert await _counts(fresh.sessions) == (0, 0)

    thread = await _send(servicer, ANNE)
    set_caller(person(BOB))
    refusals = []
    for attempt in (
        servicer.GetMyThread(pb.GetMyThreadRequest(thread_id=thread.id), NO_CONTEXT),
        servicer.HideMyThread(pb.HideMyThreadRequest(thread_id=thread.id, hidden=True), NO_CONTEXT),
        servicer.MarkMyThread(pb.MarkMyThreadRequest(thread_id=thread.id, read=True), NO_CONTEXT),
    ):
        with pytest.raises(ServiceError) as missing:
            await attempt
        refusals.append((missing.value.code, missing.value.reason))
    assert refusals == [(grpc.StatusCode.NOT_FOUND, "NO_SUCH_THREAD")] * 3
    listed = await servicer.ListMyThreads(pb.ListMyThreadsRequest(), NO_CONTEXT)
    assert list(listed.threads) == []
