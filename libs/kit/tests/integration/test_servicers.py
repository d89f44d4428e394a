"""Declared RPCs: who may call is checked before the body runs, the one transaction commits or
rolls back as a whole, refusals become statuses in one place, and nothing undeclared is served.

A small servicer of the administration contract stands in for a service's own; the calls go
through a real gRPC server with the kit's interceptor, and the writes to a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet.events.v1.identity_pb2 import AccountPurged
from guichet_kit.auth import ActingContext, LevelOfAssurance, Principal, set_caller
from guichet_kit.domain import Conflict
from guichet_kit.errors import ServiceError, read_rpc_failure
from guichet_kit.grpc_server import KitInterceptor
from guichet_kit.outbox import OutboxMessage, add_event
from guichet_kit.servicers import (
    ANY_CONTEXT,
    Call,
    Db,
    DeclaredServicer,
    Registry,
    UndeclaredRpc,
    administration,
    citizen,
    public,
    rpc,
)

from .conftest import APPLIED

SERVICE = pb.DESCRIPTOR.services_by_name["AdministrationTrackingService"]


class Declared(DeclaredServicer, pb_grpc.AdministrationTrackingServiceServicer):
    """ScanTracking writes a row and an event; UpdateTrackingStatus writes, then refuses."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessions, self._woken)
        self.wakes = 0
        self.seen: list[Call] = []

    def _woken(self) -> None:
        self.wakes += 1

    @rpc(citizen(LevelOfAssurance.SUBSTANTIAL, contexts=ANY_CONTEXT))
    async def ScanTracking(
        self, request: pb.ScanTrackingRequest, call: Call
    ) -> pb.ScanTrackingResponse:
        self.seen.append(call)
        await call.session.execute(
            insert(APPLIED).values(event_id=uuid.uuid4(), number=request.number)
        )
        add_event(call.session, "kittest.scan.done.v1", AccountPurged(service="kittest"))
        return pb.ScanTrackingResponse(already_received=False)

    @rpc(administration())
    async def UpdateTrackingStatus(
        self, request: pb.UpdateTrackingStatusRequest, call: Call
    ) -> pb.UpdateTrackingStatusResponse:
        await call.session.execute(
            insert(APPLIED).values(event_id=uuid.uuid4(), number=request.number)
        )
        raise Conflict("TRANSITION_NOT_ALLOWED", "refused after writing")


class HalfDeclared(DeclaredServicer, pb_grpc.AdministrationTrackingServiceServicer):
    @rpc(public(), db=Db.NONE)
    async def ScanTracking(
        self, request: pb.ScanTrackingRequest, call: Call
    ) -> pb.ScanTrackingResponse:
        return pb.ScanTrackingResponse()

    async def UpdateTrackingStatus(  # type: ignore[override]
        self, request: pb.UpdateTrackingStatusRequest, context: object
    ) -> pb.UpdateTrackingStatusResponse:
        return pb.UpdateTrackingStatusResponse()  # forgot its declaration: must never answer


def person(level: LevelOfAssurance) -> Principal:
    return Principal("kc-anne", level, "1985061200139", "anne@example.lu", "Anne", "token")


async def rows(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with sessions() as session:
        applied = await session.scalar(select(func.count()).select_from(APPLIED))
        events = await session.scalar(select(func.count()).select_from(OutboxMessage))
        return int(applied or 0), int(events or 0)


async def test_a_declared_write_commits_its_row_and_event_and_wakes_the_relay(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    servicer = Declared(sessions)
    set_caller(person(LevelOfAssurance.HIGH), ActingContext("company", "acme"))

    await servicer.ScanTracking(pb.ScanTrackingRequest(number="ET1"), None)  # type: ignore[arg-type]

    assert await rows(sessions) == (1, 1)
    assert servicer.wakes == 1
    [call] = servicer.seen
    assert call.person.subject == "kc-anne"
    assert str(call.acting) == "company:acme"


@pytest.mark.parametrize(
    ("principal", "reason", "code"),
    [
        (None, "AUTHENTICATION_REQUIRED", grpc.StatusCode.UNAUTHENTICATED),
        (
            person(LevelOfAssurance.LOW),
            "INSUFFICIENT_USER_AUTHENTICATION",
            grpc.StatusCode.UNAUTHENTICATED,
        ),
    ],
)
async def test_a_caller_below_the_declaration_is_refused_before_anything_runs(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal | None,
    reason: str,
    code: grpc.StatusCode,
) -> None:
    servicer = Declared(sessions)
    set_caller(principal)

    with pytest.raises(ServiceError) as refused:
        await servicer.ScanTracking(pb.ScanTrackingRequest(number="ET1"), None)  # type: ignore[arg-type]

    assert (refused.value.reason, refused.value.code) == (reason, code)
    if reason == "INSUFFICIENT_USER_AUTHENTICATION":
        assert refused.value.metadata == {"acr_values": "substantial"}
    assert servicer.seen == []
    assert await rows(sessions) == (0, 0)


async def test_an_administration_rpc_needs_a_client_certificate(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    set_caller(person(LevelOfAssurance.HIGH))  # a citizen's token is no certificate

    with pytest.raises(ServiceError) as refused:
        await Declared(sessions).UpdateTrackingStatus(
            pb.UpdateTrackingStatusRequest(number="ET1"),
            None,  # type: ignore[arg-type]
        )

    assert refused.value.reason == "CLIENT_CERTIFICATE_REQUIRED"


async def test_a_domain_refusal_rolls_back_what_the_body_wrote(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    servicer = Declared(sessions)

    class Certified:
        def auth_context(self) -> dict[str, list[bytes]]:
            return {"x509_common_name": [b"acd"]}

    with pytest.raises(ServiceError) as refused:
        await servicer.UpdateTrackingStatus(
            pb.UpdateTrackingStatusRequest(number="ET1"), Certified()
        )  # type: ignore[arg-type]

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "TRANSITION_NOT_ALLOWED",
    )
    assert await rows(sessions) == (0, 0)
    assert servicer.wakes == 0


def test_a_servicer_with_an_undeclared_rpc_is_not_registered() -> None:
    server = grpc.aio.server()
    declared: set[str] = set()
    with pytest.raises(UndeclaredRpc, match="UpdateTrackingStatus"):
        Registry(server, declared).add(
            pb_grpc.add_AdministrationTrackingServiceServicer_to_server, HalfDeclared(None), SERVICE
        )
    assert declared == set()


@pytest.fixture
async def undeclared_server() -> AsyncIterator[str]:
    """A servicer registered around the registry: only the interceptor stands in the way."""
    declared = {f"/{SERVICE.full_name}/ScanTracking"}
    server = grpc.aio.server(interceptors=[KitInterceptor(None, declared)])
    pb_grpc.add_AdministrationTrackingServiceServicer_to_server(HalfDeclared(None), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


async def test_the_interceptor_refuses_a_method_that_was_not_declared(
    undeclared_server: str,
) -> None:
    async with grpc.aio.insecure_channel(undeclared_server) as channel:
        stub = pb_grpc.AdministrationTrackingServiceStub(channel)
        assert await stub.ScanTracking(pb.ScanTrackingRequest(number="ET1")) is not None
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.UpdateTrackingStatus(pb.UpdateTrackingStatusRequest(number="ET1"))

    failure = read_rpc_failure(refused.value)
    assert (failure.code, failure.reason) == (grpc.StatusCode.UNIMPLEMENTED, "RPC_NOT_DECLARED")
