"""Wiring of the procedures process: gRPC servers (the gateway's calls on the internal port,
administrations over mutual TLS), outbox relay, account-purge consumer and the drafts' upkeep."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from guichet.procedures.v1 import procedures_pb2 as pb
from guichet.procedures.v1 import procedures_pb2_grpc as pb_grpc
from guichet_kit.auth import TokenVerifier
from guichet_kit.events import EventConsumer
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.grpc_server import Endpoint, GrpcService, serve
from guichet_kit.mandates import MandateChecker
from guichet_kit.revocation import follow_account_deletions
from guichet_kit.runtime import service_runtime
from guichet_kit.seal import Sealer
from guichet_kit.servicers import Registry
from guichet_procedures import retention
from guichet_procedures.api import wire
from guichet_procedures.api.administration import AdministrationProceduresServicer
from guichet_procedures.api.anonymous import AnonymousProceduresServicer
from guichet_procedures.api.citizen import ProceduresServicer, RequestRules
from guichet_procedures.api.files import WalletFiles, wallet_channel, wallet_uploads_channel
from guichet_procedures.api.registers import PrefillSources, authentic_data_channel
from guichet_procedures.definitions.loader import THEMES_FILE, load_themes
from guichet_procedures.requests import anonymous, upkeep
from guichet_procedures.requests.catalogue_store import CatalogueStore
from guichet_procedures.requests.events import STREAM
from guichet_procedures.requests.purge import AccountPurge
from guichet_procedures.requests.service import ProofIssuer
from guichet_procedures.requests.signature import SignatureVerifier
from guichet_procedures.settings import ProceduresSettings

SERVICES = pb.DESCRIPTOR.services_by_name
# Where a proof of deposit is checked (printed on it, and in its QR code).
VERIFY_PATH = "/api/v1/procedures/proofs/verification"


def sealer_of(settings: ProceduresSettings) -> Sealer | None:
    if not settings.seal_proofs:  # benchmarks only (refused outside development and test)
        return None
    passphrase = settings.seal_key_passphrase
    return Sealer(
        settings.seal_certificate,
        settings.seal_private_key,
        chain=(settings.platform_ca,),
        passphrase=passphrase.get_secret_value().encode() if passphrase else None,
    )


def store_of(settings: ProceduresSettings) -> CatalogueStore:
    themes_file = settings.catalogue_dir / THEMES_FILE
    return CatalogueStore(load_themes(themes_file.read_text(encoding="utf-8")))


async def run(settings: ProceduresSettings, roles: Sequence[str]) -> None:
    async with (
        service_runtime(
            "procedures",
            roles,
            database_url=settings.database_url,
            nats_url=settings.nats_url,
            streams={STREAM.name: STREAM.subjects},
            log_level=settings.log_level,
            log_json=settings.log_json,
            metrics_port=settings.metrics_port,
        ) as runtime,
        insecure_channel(settings.identity_address, timeout=5.0) as identity,
        authentic_data_channel(
            settings.authentic_data_address,
            settings.tls_certificate,
            settings.tls_private_key,
            settings.platform_ca,
            timeout=settings.authentic_data_timeout_seconds,
        ) as registers,
        wallet_channel(
            settings.wallet_address,
            settings.tls_certificate,
            settings.tls_private_key,
            settings.platform_ca,
            timeout=settings.wallet_timeout_seconds,
        ) as wallet,
    ):
        sessions = runtime.sessions
        store = store_of(settings)
        # F25: files streamed in go through a threaded channel (kit client_streams says why).
        wallet_uploads = wallet_uploads_channel(
            settings.wallet_address,
            settings.tls_certificate,
            settings.tls_private_key,
            settings.platform_ca,
        )
        rules = RequestRules(
            draft_days=settings.draft_days,
            make_proof=ProofIssuer(
                sealer_of(settings),
                settings.public_base_url.rstrip("/") + VERIFY_PATH,
                wire.display,
            ),
            trust_roots=(settings.platform_ca,),
            prefill_sources=PrefillSources(registers, identity),
            signatures=SignatureVerifier([settings.national_ca]) if settings.national_ca else None,
            files=WalletFiles(wallet, wallet_uploads),
        )

        def register(registry: Registry) -> None:
            citizens = ProceduresServicer(
                sessions, store, MandateChecker(identity), rules, runtime.events_written
            )
            registry.add(
                pb_grpc.add_ProceduresServiceServicer_to_server,
                citizens,
                SERVICES["ProceduresService"],
            )
            # F21: requests filed without an account, shown as ProceduresService shows them.
            registry.add(
                pb_grpc.add_AnonymousProceduresServiceServicer_to_server,
                AnonymousProceduresServicer(
                    sessions,
                    store,
                    citizens,
                    rules,
                    anonymous.Postman(
                        settings.smtp_host,
                        settings.smtp_port,
                        settings.mail_from,
                        settings.public_base_url,
                    ),
                    settings.anonymous_code_minutes,
                    runtime.events_written,
                ),
                SERVICES["AnonymousProceduresService"],
            )
            registry.add(
                pb_grpc.add_AdministrationProceduresServiceServicer_to_server,
                AdministrationProceduresServicer(
                    sessions,
                    store,
                    runtime.events_written,
                    stream_poll_seconds=settings.stream_poll_seconds,
                    files=rules.files,
                ),
                SERVICES["AdministrationProceduresService"],
            )

        tasks: list[Awaitable[None]] = []
        if "grpc" in roles:
            verifier = TokenVerifier(
                settings.keycloak_issuer, settings.token_audience, ca_file=settings.ca_file
            )
            tasks.append(follow_account_deletions(runtime.js, verifier.revoked, runtime.stop))
            grpc_service = GrpcService(
                name="procedures",
                register=register,
                endpoints=[
                    Endpoint(settings.grpc_address),
                    Endpoint(settings.admin_grpc_address, settings.administrations_tls()),
                ],
                readiness=runtime.ready,
                token_verifier=verifier,
            )
            tasks.append(serve(grpc_service, runtime.stop))
        if "worker" in roles:
            tasks.append(runtime.relay.run(runtime.stop))
            purge = AccountPurge(settings.purge_consumer)
            tasks.append(
                EventConsumer(runtime.js, sessions, purge.subscription()).run(runtime.stop)
            )
            tasks.append(
                upkeep.every(
                    "upkeep",
                    settings.upkeep_interval_seconds,
                    lambda: upkeep.run_once(
                        sessions,
                        warning_days=settings.draft_warning_days,
                        retention_days=settings.administration_retention_days,
                    ),
                    runtime.stop,
                )
            )
            # F92: what is past its retention, every GUICHET_RETENTION_INTERVAL_SECONDS.
            tasks.append(retention.periodically(settings, sessions, runtime.nats, runtime.stop))
        try:
            await asyncio.gather(*tasks)
        finally:
            wallet_uploads.close()
