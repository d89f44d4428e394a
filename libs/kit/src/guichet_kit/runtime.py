"""What every service process sets up the same way: logs, metrics, database, NATS, outbox relay,
the stop signal, and the command line that picks its roles (`grpc`, `worker`, or `all`)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import structlog
import uvloop
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from guichet_kit import tracing
from guichet_kit.db import create_engine, session_factory
from guichet_kit.events import connect, ensure_stream
from guichet_kit.grpc_server import stop_on_signals
from guichet_kit.logs import configure_logging
from guichet_kit.metrics import serve_metrics
from guichet_kit.outbox import OutboxRelay
from guichet_kit.settings import PlatformSettings
from guichet_kit.worker_health import WorkerHealth

log = structlog.get_logger(__name__)

ROLES = ("grpc", "worker")


@dataclass
class ServiceRuntime:
    name: str
    roles: Sequence[str]
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    nats: NatsClient
    js: JetStreamContext
    relay: OutboxRelay
    stop: asyncio.Event

    async def ready(self) -> bool:
        """Readiness for the health service: the database answers and NATS is connected."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return bool(self.nats.is_connected)

    def events_written(self) -> None:
        """Called after a commit that wrote events: in one process the relay goes at once;
        a gRPC-only process leaves them to the worker's next poll."""
        if "worker" in self.roles:
            self.relay.wake()


@asynccontextmanager
async def service_runtime(
    name: str,
    roles: Sequence[str],
    *,
    database_url: str,
    nats_url: str,
    streams: Mapping[str, Sequence[str]],
    log_level: str = "INFO",
    log_json: bool = True,
    metrics_port: int = 0,
) -> AsyncIterator[ServiceRuntime]:
    """Set up a service process; `streams` are the ones this service produces to."""
    # The deployment's settings first: a bad value stops the process before it opens anything.
    platform = PlatformSettings()
    configure_logging(name, log_level, json=log_json)
    tracing.configure(name)  # on when GUICHET_OTLP_ENDPOINT is set
    serve_metrics(metrics_port, str(platform.metrics_host))
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    nats_client = await connect(nats_url, name)
    js = nats_client.jetstream()
    for stream, subjects in streams.items():
        await ensure_stream(js, stream, subjects)
    stop = asyncio.Event()
    stop_on_signals(stop)
    runtime = ServiceRuntime(
        name, roles, engine, sessions, nats_client, js, OutboxRelay(sessions, js), stop
    )
    log.info("service.started", roles=list(roles))
    worker_health = None
    try:
        if "worker" in roles and platform.worker_health_address:
            worker_health = WorkerHealth(platform.worker_health_address, runtime.ready)
            await worker_health.start()
            # The relay and the consumers the service starts from here report to it.
            worker_health.parts.make_current()
        yield runtime
    finally:
        if worker_health is not None:
            await worker_health.close()
            worker_health.parts.forget_current()
        await nats_client.drain()
        await engine.dispose()
        tracing.shutdown()
        log.info("service.stopped")


def run_roles(prog: str, start: Callable[[Sequence[str]], Coroutine[Any, Any, None]]) -> None:
    """`python -m <service> {grpc,worker,all}`."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("role", choices=[*ROLES, "all"])
    role = parser.parse_args().role
    # uvloop: the C event loop; the default one costs a large share of every call.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(start(ROLES if role == "all" else (role,)))
