"""The kit's channels spread calls, not connections, over every address of the name they call
(round_robin): two real gRPC servers behind one target both answer. In Kubernetes the target is
`dns:///<service>:<port>` of a headless Service; here the `ipv4:` resolver gives the same list of
addresses (no name of this machine resolves to two), and the policy is the same."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from guichet_kit.grpc_client import insecure_channel
from guichet_testkit.processes import free_port

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
async def two_servers() -> AsyncIterator[str]:
    """Two servers on one port of two loopback addresses; each tells itself apart by its answer
    (the first SERVING, the second NOT_SERVING)."""
    port = free_port()
    servers = []
    for host, status in (("127.0.0.1", SERVING), ("127.0.0.2", NOT_SERVING)):
        servicer = health.aio.HealthServicer()
        await servicer.set("", status)
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        server.add_insecure_port(f"{host}:{port}")
        await server.start()
        servers.append(server)
    yield f"ipv4:127.0.0.1:{port},127.0.0.2:{port}"
    for server in servers:
        await server.stop(None)


async def test_calls_go_to_every_server_in_turn(two_servers: str) -> None:
    async with insecure_channel(two_servers, timeout=5.0) as channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)

        async def call() -> Any:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""))
            return reply.status

        # Until the second connection is up, calls go to the first; a pick-first channel would
        # send them all there for ever.
        seen = {await call()}
        for _ in range(200):
            if len(seen) == 2:
                break
            seen.add(await call())
        assert seen == {SERVING, NOT_SERVING}
        # Both connected: each call goes to the next server.
        answers = Counter([await call() for _ in range(10)])
        assert answers == {SERVING: 5, NOT_SERVING: 5}
