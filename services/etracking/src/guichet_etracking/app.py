"""Wiring of the eTracking process: gRPC servers, outbox relay, account-purge consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet.etracking.v1 import etracking_pb2_grpc as pb_grpc
from guichet_etracking import retention
from guichet_etracking.settings import EtrackingSettings
from guichet_etracking.tracking.events import STREAM
from guichet_etracking.tracking.grpc import AdministrationServicer, TrackingServicer
from guichet_etracking.tracking.purge import account_purge_subscription
from guichet_kit.auth import TokenVerifier
from guichet_kit.events import EventConsumer
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.grpc_server import Endpoint, GrpcService, serve
from guichet_kit.mandates import MandateChecker
from guichet_kit.revocation import follow_account_deletions
from guichet_kit.runtime import service_runtime
from guichet_kit.servicers import Registry


async def run(settings: EtrackingSettings, roles: Sequence[str]) -> None:
    async with (
        service_runtime(
            "etracking",
            roles,
            database_url=settings.database_url,
            nats_url=settings.nats_url,
            streams={STREAM.name: STREAM.subjects},
            log_level=settings.log_level,
            log_json=settings.log_json,
            metrics_port=settings.metrics_port,
        ) as runtime,
        insecure_channel(settings.identity_address, timeout=5.0) as identity,
    ):
        mandates = MandateChecker(identity)
        sessions = runtime.sessions

        def register(registry: Registry) -> None:
            registry.add(
                pb_grpc.add_TrackingServiceServicer_to_server,
                TrackingServicer(
                    sessions, settings.public_base_url, mandates, runtime.events_written
                ),
                pb.DESCRIPTOR.services_by_name["TrackingService"],
            )
            registry.add(
                pb_grpc.add_AdministrationTrackingServiceServicer_to_server,
                AdministrationServicer(sessions, runtime.events_written),
                pb.DESCRIPTOR.services_by_name["AdministrationTrackingService"],
            )

        tasks: list[Awaitable[None]] = []
        if "grpc" in roles:
            verifier = TokenVerifier(
                settings.keycloak_issuer, settings.token_audience, ca_file=settings.ca_file
            )
            tasks.append(follow_account_deletions(runtime.js, verifier.revoked, runtime.stop))
            grpc_service = GrpcService(
                name="etracking",
                register=register,
                endpoints=[
                    Endpoint(settings.grpc_address),
                    Endpoint(settings.admin_grpc_address, settings.admin_tls()),
                ],
                readiness=runtime.ready,
                token_verifier=verifier,
            )
            tasks.append(serve(grpc_service, runtime.stop))
        if "worker" in roles:
            tasks.append(runtime.relay.run(runtime.stop))
            consumer = EventConsumer(runtime.js, sessions, account_purge_subscription())
            tasks.append(consumer.run(runtime.stop))
            # F92: what is past its retention, every GUICHET_RETENTION_INTERVAL_SECONDS.
            tasks.append(retention.periodically(settings, sessions, runtime.nats, runtime.stop))
        await asyncio.gather(*tasks)
