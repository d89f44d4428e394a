"""Wiring of the identity process: gRPC server (with the revocation follower), outbox relay,
purge-confirmation consumers and the sweep of pending login removals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity import retention
from guichet_identity.account import events as account_events
from guichet_identity.account.deletion import remove_pending_logins
from guichet_identity.account.grpc import AccountServicer
from guichet_identity.account.keycloak_admin import KeycloakAccounts
from guichet_identity.authentic_data import AuthenticDataRegisters, authentic_data_channel
from guichet_identity.profile.contact import ContactServicer
from guichet_identity.profile.grpc import ProfileServicer
from guichet_identity.relations.grpc import RelationServicer
from guichet_identity.settings import IdentitySettings
from guichet_identity.spaces.grpc import SpaceServicer
from guichet_kit.auth import TokenVerifier
from guichet_kit.events import EventConsumer
from guichet_kit.grpc_server import Endpoint, GrpcService, serve
from guichet_kit.revocation import follow_account_deletions
from guichet_kit.runtime import service_runtime
from guichet_kit.servicers import Registry
from guichet_kit.settings import TlsFiles

SERVICES = pb.DESCRIPTOR.services_by_name


async def run(settings: IdentitySettings, roles: Sequence[str]) -> None:
    async with service_runtime(
        "identity",
        roles,
        database_url=settings.database_url,
        nats_url=settings.nats_url,
        streams={account_events.STREAM: account_events.STREAM_SUBJECTS},
        log_level=settings.log_level,
        log_json=settings.log_json,
        metrics_port=settings.metrics_port,
    ) as runtime:
        sessions = runtime.sessions
        # The account servicer holds a Keycloak admin client, closed once the server stopped.
        accounts = AccountServicer(sessions, settings, runtime.events_written)
        # Declared children and company founders are checked against the registers.
        registers_channel = authentic_data_channel(
            settings.authentic_data_address,
            settings.tls_certificate,
            settings.tls_private_key,
            settings.platform_ca,
            timeout=settings.authentic_data_timeout_seconds,
        )
        registers = AuthenticDataRegisters(registers_channel)

        def register(registry: Registry) -> None:
            # Each servicer is refused at start-up if one RPC of its service lacks a declaration.
            woken = runtime.events_written
            registry.add(
                pb_grpc.add_AccountServiceServicer_to_server, accounts, SERVICES["AccountService"]
            )
            registry.add(
                pb_grpc.add_ProfileServiceServicer_to_server,
                ProfileServicer(sessions, woken),
                SERVICES["ProfileService"],
            )
            registry.add(
                pb_grpc.add_RelationServiceServicer_to_server,
                RelationServicer(sessions, woken, registers=registers),
                SERVICES["RelationService"],
            )
            registry.add(
                pb_grpc.add_SpaceServiceServicer_to_server,
                SpaceServicer(sessions, woken, registers=registers),
                SERVICES["SpaceService"],
            )
            registry.add(
                pb_grpc.add_ContactServiceServicer_to_server,
                ContactServicer(sessions),
                SERVICES["ContactService"],
            )

        tasks: list[Awaitable[None]] = []
        if "grpc" in roles:
            # A deleted account's still-unexpired token is refused here too (TOKEN_REVOKED).
            verifier = TokenVerifier(
                settings.issuer, settings.token_audience, ca_file=settings.ca_file
            )
            tasks.append(follow_account_deletions(runtime.js, verifier.revoked, runtime.stop))
            grpc_service = GrpcService(
                name="identity",
                register=register,
                endpoints=[
                    Endpoint(settings.grpc_address),
                    # Only platform services' certificates get through the handshake.
                    Endpoint(
                        settings.services_grpc_address,
                        TlsFiles(
                            certificate=settings.tls_certificate,
                            private_key=settings.tls_private_key,
                            client_ca=settings.platform_ca,
                        ),
                    ),
                ],
                readiness=runtime.ready,
                on_shutdown=[accounts.aclose, registers_channel.close],
                token_verifier=verifier,
            )
            tasks.append(serve(grpc_service, runtime.stop))
        if "worker" in roles:
            tasks.append(runtime.relay.run(runtime.stop))
            tasks.append(_sweep_login_removals(sessions, settings, runtime.stop))
            # F92: what is past its retention, every GUICHET_RETENTION_INTERVAL_SECONDS.
            tasks.append(retention.periodically(settings, sessions, runtime.nats, runtime.stop))
            # F8: each service holding personal data confirms the purge of a deleted account.
            for subscription in account_events.purge_confirmation_subscriptions(
                settings.purge_services
            ):
                tasks.append(EventConsumer(runtime.js, sessions, subscription).run(runtime.stop))
        await asyncio.gather(*tasks)


async def _sweep_login_removals(
    sessions: async_sessionmaker[AsyncSession], settings: IdentitySettings, stop: asyncio.Event
) -> None:
    # The worker's own admin client: the server's closes when the server stops.
    keycloak = KeycloakAccounts.from_settings(settings)
    try:
        await remove_pending_logins(
            sessions, keycloak, stop, every=settings.login_removal_retry_seconds
        )
    finally:
        await keycloak.aclose()
