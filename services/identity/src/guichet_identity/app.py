"""Wiring of the identity process: database, NATS, outbox relay and gRPC server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import structlog
from sqlalchemy import text

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.account import events as account_events
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.profile.grpc import ProfileServicer
from guichet_identity.relations.grpc import RelationServicer
from guichet_identity.settings import IdentitySettings
from guichet_identity.spaces.grpc import SpaceServicer
from guichet_kit.auth import TokenVerifier
from guichet_kit.db import create_engine, session_factory
from guichet_kit.events import EventConsumer, connect, ensure_stream
from guichet_kit.grpc_server import Endpoint, GrpcService, serve, stop_on_signals
from guichet_kit.logs import configure_logging
from guichet_kit.metrics import serve_metrics
from guichet_kit.outbox import OutboxRelay

log = structlog.get_logger(__name__)

ROLES = ("grpc", "worker")


async def run(settings: IdentitySettings, roles: Sequence[str]) -> None:
    configure_logging("identity", settings.log_level, json=settings.log_json)
    serve_metrics(settings.metrics_port)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    nats_client = await connect(settings.nats_url, "identity")
    js = nats_client.jetstream()
    await ensure_stream(js, account_events.STREAM, account_events.STREAM_SUBJECTS)
    relay = OutboxRelay(sessions, js)
    stop = asyncio.Event()
    stop_on_signals(stop)

    async def ready() -> bool:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return bool(nats_client.is_connected)

    # In one process the relay is woken right after a commit; otherwise it polls.
    wake = relay.wake if "worker" in roles else (lambda: None)

    # AccountService (Keycloak accounts, e-mail change, deletion): guichet_identity.account.
    # It holds a Keycloak admin client, closed once the server has stopped.
    accounts = AccountServicer(sessions, settings, wake)

    def register(server: grpc.aio.Server) -> list[str]:
        pb_grpc.add_AccountServiceServicer_to_server(accounts, server)
        pb_grpc.add_ProfileServiceServicer_to_server(ProfileServicer(sessions), server)
        pb_grpc.add_RelationServiceServicer_to_server(RelationServicer(sessions), server)
        pb_grpc.add_SpaceServiceServicer_to_server(SpaceServicer(sessions), server)
        return [
            pb.DESCRIPTOR.services_by_name[name].full_name
            for name in ("AccountService", "ProfileService", "RelationService", "SpaceService")
        ]

    tasks = []
    if "grpc" in roles:
        grpc_service = GrpcService(
            name="identity",
            register=register,
            endpoints=[Endpoint(settings.grpc_address)],
            readiness=ready,
            on_shutdown=[accounts.aclose],
            token_verifier=TokenVerifier(
                settings.issuer, settings.token_audience, ca_file=settings.ca_file
            ),
        )
        tasks.append(serve(grpc_service, stop))
    if "worker" in roles:
        tasks.append(relay.run(stop))
        # F8: each service that holds personal data confirms the purge of a deleted account.
        for subscription in account_events.purge_confirmation_subscriptions(
            settings.purge_services
        ):
            tasks.append(EventConsumer(js, sessions, subscription).run(stop))
    log.info("identity.started", roles=list(roles))
    try:
        await asyncio.gather(*tasks)
    finally:
        await nats_client.drain()
        await engine.dispose()
        log.info("identity.stopped")
