"""Wiring of the authentic-data process: gRPC servers, outbox relay, the synthetic registers'
desk, the account-purge consumer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from guichet.authentic_data.v1 import authentic_data_pb2 as pb
from guichet.authentic_data.v1 import authentic_data_pb2_grpc as pb_grpc
from guichet_authentic_data import retention
from guichet_authentic_data.api.peers import Authorities
from guichet_authentic_data.grpc import (
    AdministrationDataServicer,
    MyDataServicer,
    PlatformDataServicer,
    SpaceDirectory,
    VerificationServicer,
)
from guichet_authentic_data.purge import account_purge_subscription
from guichet_authentic_data.registers.desk import report_subscription, run_desk
from guichet_authentic_data.reports.events import STREAM
from guichet_authentic_data.settings import AuthenticDataSettings
from guichet_kit.auth import TokenVerifier
from guichet_kit.events import EventConsumer
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.grpc_server import Endpoint, GrpcService, serve
from guichet_kit.mandates import MandateChecker
from guichet_kit.revocation import follow_account_deletions
from guichet_kit.runtime import service_runtime
from guichet_kit.seal import Sealer
from guichet_kit.servicers import Registry
from guichet_kit.settings import TlsFiles


class _BothCas(TlsFiles):
    """The mutual TLS port's files: its certificate, and the two CAs whose clients it admits."""

    bundle: bytes

    def read(self) -> tuple[bytes, bytes, bytes | None]:
        return self.certificate.read_bytes(), self.private_key.read_bytes(), self.bundle


def _sealer(settings: AuthenticDataSettings) -> Sealer:
    passphrase = settings.seal_key_passphrase
    return Sealer(
        settings.seal_certificate,
        settings.seal_private_key,
        chain=(settings.platform_ca,),
        passphrase=passphrase.get_secret_value().encode() if passphrase else None,
    )


async def run(settings: AuthenticDataSettings, roles: Sequence[str]) -> None:
    async with (
        service_runtime(
            "authentic-data",
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
        sessions = runtime.sessions
        authorities = Authorities(settings.platform_ca, settings.administrations_ca)

        def register(registry: Registry) -> None:
            service = pb.DESCRIPTOR.services_by_name
            registry.add(
                pb_grpc.add_MyDataServiceServicer_to_server,
                MyDataServicer(
                    sessions,
                    runtime.events_written,
                    mandates=MandateChecker(identity),
                    spaces=SpaceDirectory(identity),
                    sealer=_sealer(settings),
                    public_base_url=settings.public_base_url,
                ),
                service["MyDataService"],
            )
            registry.add(
                pb_grpc.add_PlatformDataServiceServicer_to_server,
                PlatformDataServicer(sessions, authorities),
                service["PlatformDataService"],
            )
            registry.add(
                pb_grpc.add_AdministrationDataServiceServicer_to_server,
                AdministrationDataServicer(sessions, authorities),
                service["AdministrationDataService"],
            )
            registry.add(
                pb_grpc.add_CertificateVerificationServiceServicer_to_server,
                VerificationServicer(sessions, public_base_url=settings.public_base_url),
                service["CertificateVerificationService"],
            )

        tasks: list[Awaitable[None]] = []
        if "grpc" in roles:
            verifier = TokenVerifier(
                settings.keycloak_issuer, settings.token_audience, ca_file=settings.ca_file
            )
            tasks.append(follow_account_deletions(runtime.js, verifier.revoked, runtime.stop))
            mutual_tls = _BothCas(
                certificate=settings.tls_certificate,
                private_key=settings.tls_private_key,
                client_ca=settings.administrations_ca,  # required; `read` gives both CAs
                bundle=authorities.bundle(),
            )
            grpc_service = GrpcService(
                name="authentic-data",
                register=register,
                endpoints=[
                    Endpoint(settings.grpc_address),
                    Endpoint(settings.mtls_grpc_address, mutual_tls),
                ],
                readiness=runtime.ready,
                token_verifier=verifier,
            )
            tasks.append(serve(grpc_service, runtime.stop))
        if "worker" in roles:
            tasks.append(runtime.relay.run(runtime.stop))
            purges = EventConsumer(
                runtime.js, sessions, account_purge_subscription(settings.purge_consumer)
            )
            tasks.append(purges.run(runtime.stop))
            # The synthetic registers' adapter: it takes the reports filed about them.
            filed = EventConsumer(
                runtime.js, sessions, report_subscription(settings.report_consumer)
            )
            tasks.append(filed.run(runtime.stop))
            # F92: what is past its retention, every GUICHET_RETENTION_INTERVAL_SECONDS.
            tasks.append(retention.periodically(settings, sessions, runtime.nats, runtime.stop))
            tasks.append(
                run_desk(
                    sessions,
                    runtime.stop,
                    interval=settings.desk_interval_seconds,
                    events_written=runtime.relay.wake,
                )
            )
        await asyncio.gather(*tasks)
