"""Wiring of the eTracking process: database, NATS, outbox relay and gRPC server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import structlog
from sqlalchemy import text

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_etracking.settings import EtrackingSettings
from guichet_etracking.tracking.events import STREAM, STREAM_SUBJECTS
from guichet_etracking.tracking.grpc import AdministrationServicer, TrackingServicer
from guichet_etracking.tracking.purge import account_purge_subscription
from guichet_kit.auth import TokenVerifier
from guichet_kit.db import create_engine, session_factory
from guichet_kit.events import EventConsumer, connect, ensure_stream
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.grpc_server import Endpoint, GrpcService, serve, stop_on_signals
from guichet_kit.logs import configure_logging
from guichet_kit.mandates import MandateChecker
from guichet_kit.metrics import serve_metrics
from guichet_kit.outbox import OutboxRelay

log = structlog.get_logger(__name__)

ROLES = ("grpc", "worker")


async def run(settings: EtrackingSettings, roles: Sequence[str]) -> None:
    configure_logging("etracking", settings.log_level, json=settings.log_json)
    serve_metrics(settings.metrics_port)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    nats_client = await connect(settings.nats_url, "etracking")
    js = nats_client.jetstream()
    await ensure_stream(js, STREAM, STREAM_SUBJECTS)
    relay = OutboxRelay(sessions, js)
    identity_channel = insecure_channel(settings.identity_address, timeout=5.0)
    mandates = MandateChecker(identity_channel)
    verifier = TokenVerifier(
        settings.keycloak_issuer, settings.token_audience, ca_file=settings.ca_file
    )
    stop = asyncio.Event()
    stop_on_signals(stop)

    async def ready() -> bool:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return bool(nats_client.is_connected)

    # In one process the relay is woken right after a commit; otherwise it polls.
    wake = relay.wake if "worker" in roles else (lambda: None)

    def register(server: grpc.aio.Server) -> list[str]:
        pb_grpc.add_TrackingServiceServicer_to_server(
            TrackingServicer(sessions, settings.public_base_url, wake, mandates), server
        )
        pb_grpc.add_AdministrationTrackingServiceServicer_to_server(
            AdministrationServicer(sessions, wake), server
        )
        return [
            pb.DESCRIPTOR.services_by_name["TrackingService"].full_name,
            pb.DESCRIPTOR.services_by_name["AdministrationTrackingService"].full_name,
        ]

    tasks = []
    if "grpc" in roles:
        grpc_service = GrpcService(
            name="etracking",
            register=register,
            endpoints=[
                Endpoint(settings.grpc_address),
                Endpoint(settings.admin_grpc_address, settings.admin_tls()),
            ],
            readiness=ready,
            token_verifier=verifier,
        )
        tasks.append(serve(grpc_service, stop))
    if "worker" in roles:
        tasks.append(relay.run(stop))
        tasks.append(EventConsumer(js, sessions, account_purge_subscription()).run(stop))
    log.info("etracking.started", roles=list(roles))
    try:
        await asyncio.gather(*tasks)
    finally:
        await identity_channel.close()
        await nats_client.drain()
        await engine.dispose()
        log.info("etracking.stopped")
