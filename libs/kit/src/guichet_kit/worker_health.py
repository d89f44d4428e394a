"""The worker role's health port: gRPC health (grpc.health.v1) saying SERVING once the worker's
outbox relay and event consumers run (worker_parts.py) and its database and NATS answer, so that
Kubernetes probes a worker natively, as it probes the gRPC roles. The runtime opens it when
GUICHET_WORKER_HEALTH_ADDRESS is set."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from guichet_kit.worker_parts import WorkerParts

log = structlog.get_logger(__name__)


def _status(serving: bool) -> int:
    if serving:
        return health_pb2.HealthCheckResponse.SERVING
    return health_pb2.HealthCheckResponse.NOT_SERVING


class WorkerHealth:
    """The health port of one worker process."""

    def __init__(
        self,
        address: str,
        readiness: Callable[[], Awaitable[bool]],
        *,
        interval: float = 5.0,
    ) -> None:
        self.address = address
        self.parts = WorkerParts()
        self._readiness = readiness
        self._interval = interval
        self._servicer = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False

    async def serving(self) -> bool:
        if not self.parts.all_running():
            return False
        try:
            async with asyncio.timeout(3):
                return await self._readiness()
        except Exception:  # a dependency down is an answer: NOT_SERVING
            return False

    async def start(self) -> int:
        """Listen (NOT_SERVING until the parts run); returns the bound port."""
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)
        port = server.add_insecure_port(self.address)
        await self._set(serving=False)
        await server.start()
        self._server = server
        self._watcher = asyncio.create_task(self._watch())
        log.info("worker.health_listening", address=self.address, port=port)
        return port

    async def close(self) -> None:
        # Told, not cancelled: Python 3.11's wait_for may swallow a cancellation that arrives as
        # its wait ends, and a cancelled watcher would then go on for ever.
        self._closing = True
        self.parts.changed.set()
        if self._watcher is not None:
            await self._watcher
        await self._servicer.enter_graceful_shutdown()
        if self._server is not None:
            await self._server.stop(1.0)

    async def _set(self, *, serving: bool) -> None:
        """The worker as a whole (""), then each part under its own name (`outbox relay`,
        `consumer <durable>`), for an operator asking which one does not run."""
        running = self.parts.running()
        await self._servicer.set("", _status(serving))
        for name, part_running in running.items():
            await self._servicer.set(name, _status(part_running))

    async def _watch(self) -> None:
        # Again when a part starts or stops, and every interval for the database and NATS.
        while not self._closing:
            self.parts.changed.clear()
            await self._set(serving=await self.serving())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self.parts.changed.wait()
