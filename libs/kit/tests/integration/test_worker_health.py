"""The worker role's health port, through the kit's runtime on the real PostgreSQL and NATS: gRPC
health says NOT_SERVING until the outbox relay and every consumer run, SERVING then, and
NOT_SERVING again once they stop."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_kit.events import EventConsumer, EventSubscription, ensure_stream
from guichet_kit.infra import postgres_url
from guichet_kit.runtime import service_runtime
from guichet_testkit import worker_name
from guichet_testkit.eventually import wait_until
from guichet_testkit.processes import free_port

STREAM = f"KITHEALTH_{worker_name().upper()}"
SUBJECTS = [f"kithealth{worker_name()}.>"]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _status(address: str, part: str = "") -> Any:
    async with grpc.aio.insecure_channel(address) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=part), timeout=2.0)
        return reply.status


async def _until(address: str, status: Any, what: str, part: str = "") -> None:
    async def reached() -> bool:
        return bool(await _status(address, part) == status)

    await wait_until(reached, seconds=20.0, what=what, interval=0.1)


async def _nothing(session: AsyncSession, event: events_pb2.TrackingCreated) -> None:
    return None


async def _delete_stream(jetstream: JetStreamContext) -> None:
    with contextlib.suppress(NotFoundError):
        await jetstream.delete_stream(STREAM)


async def test_a_worker_is_serving_once_its_relay_and_consumers_run(
    infra: dict[str, str],
    kit_sessions: async_sessionmaker[AsyncSession],
    jetstream: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _delete_stream(jetstream)
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("GUICHET_WORKER_HEALTH_ADDRESS", address)
    subscription = EventSubscription(
        STREAM,
        f"kithealth-{worker_name()}",
        f"kithealth{worker_name()}.>",
        events_pb2.TrackingCreated,
        _nothing,
    )
    async with service_runtime(
        "kithealth",
        ["worker"],
        database_url=postgres_url(infra, f"kit_test_{worker_name()}"),
        nats_url=infra["GUICHET_NATS_URL"],
        streams={},
        log_json=False,
    ) as runtime:
        consumer = EventConsumer(runtime.js, runtime.sessions, subscription)
        worker = asyncio.gather(runtime.relay.run(runtime.stop), consumer.run(runtime.stop))
        try:
            # The relay runs, the consumer waits for a stream nobody made yet: each part says so
            # under its name, and the worker as a whole does not serve.
            await _until(address, SERVING, "the relay running", part="outbox relay")
            assert await _status(address, f"consumer {subscription.durable}") == NOT_SERVING
            assert await _status(address) == NOT_SERVING
            await ensure_stream(jetstream, STREAM, SUBJECTS)
            await _until(address, SERVING, "the worker serving once its consumer is bound")
            assert await _status(address, f"consumer {subscription.durable}") == SERVING
        finally:
            runtime.stop.set()
            await worker
        # Stopped, its relay and consumer no longer run: no longer serving, port still open.
        await _until(address, NOT_SERVING, "the stopped worker, not serving")
    # The runtime closed: the port is gone.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _status(address)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    await _delete_stream(jetstream)


async def test_the_grpc_role_opens_no_worker_health_port(
    infra: dict[str, str],
    kit_sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("GUICHET_WORKER_HEALTH_ADDRESS", address)
    async with service_runtime(
        "kithealth",
        ["grpc"],
        database_url=postgres_url(infra, f"kit_test_{worker_name()}"),
        nats_url=infra["GUICHET_NATS_URL"],
        streams={},
        log_json=False,
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _status(address)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    "address", ["50090", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:0", "a b:1", "[::1:80"]
)
async def test_a_bad_health_address_stops_the_worker_before_it_changes_anything(
    infra: dict[str, str],
    jetstream: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
    address: str,
) -> None:
    await _delete_stream(jetstream)
    monkeypatch.setenv("GUICHET_WORKER_HEALTH_ADDRESS", address)
    with pytest.raises(ValidationError, match="worker_health_address"):
        async with service_runtime(
            "kithealth",
            ["worker"],
            database_url=postgres_url(infra, f"kit_test_{worker_name()}"),
            nats_url=infra["GUICHET_NATS_URL"],
            streams={STREAM: SUBJECTS},
            log_json=False,
        ):
            pass
    # Its own stream was not made.
    with pytest.raises(NotFoundError):
        await jetstream.stream_info(STREAM)
