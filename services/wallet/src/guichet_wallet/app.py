"""Wiring of the wallet process: gRPC servers (people through the gateway; platform services over
mutual TLS), outbox relay, account-purge consumer, expiry notices and the sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import timedelta

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet.wallet.v1 import wallet_pb2_grpc as pb_grpc
from guichet_kit.auth import TokenVerifier
from guichet_kit.events import EventConsumer
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.grpc_server import Endpoint, GrpcService, serve
from guichet_kit.mandates import MandateChecker
from guichet_kit.revocation import follow_account_deletions
from guichet_kit.runtime import service_runtime
from guichet_kit.servicers import Registry
from guichet_wallet import retention
from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces import upkeep
from guichet_wallet.pieces.copying import Copying
from guichet_wallet.pieces.events import STREAM
from guichet_wallet.pieces.filing import Filing
from guichet_wallet.pieces.grpc import WalletServicer
from guichet_wallet.pieces.purge import AccountPurge
from guichet_wallet.pieces.removals import ObjectRemovals
from guichet_wallet.pieces.service import Limits
from guichet_wallet.platform.grpc import FileServicer
from guichet_wallet.settings import WalletSettings

SERVICES = pb.DESCRIPTOR.services_by_name


def pipeline_of(settings: WalletSettings) -> FilePipeline:
    return FilePipeline(
        endpoint=settings.minio_endpoint,
        access_key=settings.minio_access_key,
        secret_key=settings.minio_secret_key.get_secret_value(),
        secure=settings.minio_secure,
        bucket_prefix=settings.bucket_prefix,
        clamav_address=settings.clamav_address,
    )


async def run(settings: WalletSettings, roles: Sequence[str]) -> None:
    async with (
        service_runtime(
            "wallet",
            roles,
            database_url=settings.database_url,
            nats_url=settings.nats_url,
            streams={STREAM.name: STREAM.subjects},
            log_level=settings.log_level,
            log_json=settings.log_json,
            metrics_port=settings.metrics_port,
        ) as runtime,
        insecure_channel(settings.identity_address, timeout=5.0) as identity,
        pipeline_of(settings) as pipeline,
    ):
        sessions = runtime.sessions
        filing = Filing(
            sessions,
            pipeline,
            Limits(settings.max_pieces, settings.max_files_per_piece),
            settings.max_file_bytes,
        )

        def register(registry: Registry) -> None:
            registry.add(
                pb_grpc.add_WalletServiceServicer_to_server,
                WalletServicer(filing, MandateChecker(identity), runtime.events_written),
                SERVICES["WalletService"],
            )
            registry.add(
                pb_grpc.add_FileServiceServicer_to_server,
                FileServicer(Copying(filing, settings.copy_retention_days), runtime.events_written),
                SERVICES["FileService"],
            )

        tasks: list[Awaitable[None]] = []
        if "grpc" in roles:
            verifier = TokenVerifier(
                settings.keycloak_issuer, settings.token_audience, ca_file=settings.ca_file
            )
            tasks.append(follow_account_deletions(runtime.js, verifier.revoked, runtime.stop))
            grpc_service = GrpcService(
                name="wallet",
                register=register,
                endpoints=[
                    Endpoint(settings.grpc_address),
                    Endpoint(settings.services_grpc_address, settings.services_tls()),
                ],
                readiness=runtime.ready,
                token_verifier=verifier,
            )
            tasks.append(serve(grpc_service, runtime.stop))
        if "worker" in roles:
            removals = ObjectRemovals(pipeline)
            purge = AccountPurge(removals, settings.purge_consumer)
            tasks.append(runtime.relay.run(runtime.stop))
            tasks.append(
                EventConsumer(runtime.js, sessions, purge.subscription()).run(runtime.stop)
            )
            tasks.append(removals.run(runtime.stop))
            # F92: what is past its retention, every GUICHET_RETENTION_INTERVAL_SECONDS.
            tasks.append(
                retention.periodically(settings, sessions, runtime.nats, pipeline, runtime.stop)
            )
            tasks.append(
                upkeep.every(
                    "expiry_notices",
                    settings.expiry_interval_seconds,
                    lambda: upkeep.announce_expiring(sessions, settings.expiry_notice_days),
                    runtime.stop,
                )
            )
            grace = timedelta(seconds=settings.sweep_grace_seconds)
            tasks.append(
                upkeep.every(
                    "sweep",
                    settings.sweep_interval_seconds,
                    lambda: upkeep.sweep(sessions, pipeline, grace),
                    runtime.stop,
                )
            )
        await asyncio.gather(*tasks)
