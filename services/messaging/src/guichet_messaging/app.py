"""Wiring of the messaging process: the gRPC server (the notification centre), the consumers of
the events that become notifications, and the delivery worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta

import grpc

from guichet.events import subjects
from guichet.messaging.v1 import (
    edelivery_pb2,
    edelivery_pb2_grpc,
    exchanges_pb2,
    exchanges_pb2_grpc,
)
from guichet.messaging.v1 import messaging_pb2 as pb
from guichet.messaging.v1 import messaging_pb2_grpc as pb_grpc
from guichet_kit.auth import TokenVerifier
from guichet_kit.events import EventConsumer
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.grpc_server import Endpoint, GrpcService, serve
from guichet_kit.revocation import follow_account_deletions
from guichet_kit.runtime import service_runtime
from guichet_kit.servicers import Registry
from guichet_messaging import retention
from guichet_messaging.edelivery.grpc import (
    AdministrationDeliveryServicer,
    EDeliveryServicer,
    IdentityAddressees,
    WalletDocuments,
    report_unread,
    uploads_channel,
)
from guichet_messaging.edelivery.opened import ReadReceipts
from guichet_messaging.edelivery.receipts import ReceiptSealer
from guichet_messaging.edelivery.service import EDelivery
from guichet_messaging.exchanges.files import MessageFiles
from guichet_messaging.exchanges.grpc import AdministrationMessagingServicer, ExchangeServicer
from guichet_messaging.exchanges.requests import ProcedureRequests
from guichet_messaging.notifications.contacts import IdentityContacts, identity_channel
from guichet_messaging.notifications.delivery import (
    DeliveryWorker,
    MailSender,
    NoopSender,
    Sender,
    SmsSender,
)
from guichet_messaging.notifications.etracking_events import TrackingNotifications
from guichet_messaging.notifications.exchange_events import ExchangeNotifications
from guichet_messaging.notifications.grpc import MessagingServicer
from guichet_messaging.notifications.models import Channel
from guichet_messaging.notifications.person_events import PersonNotifications
from guichet_messaging.notifications.service import Backoff
from guichet_messaging.purge import AccountPurge
from guichet_messaging.settings import MessagingSettings

SERVICES = pb.DESCRIPTOR.services_by_name
EDELIVERY_SERVICES = edelivery_pb2.DESCRIPTOR.services_by_name


def edelivery_of(settings: MessagingSettings) -> EDelivery | None:
    if settings.seal_certificate is None or settings.seal_private_key is None:
        return None
    passphrase = settings.seal_key_passphrase
    sealer = ReceiptSealer(
        settings.seal_certificate,
        settings.seal_private_key,
        passphrase=None if passphrase is None else passphrase.get_secret_value().encode(),
    )
    return EDelivery(sealer, lambda: datetime.now(UTC))


async def run(settings: MessagingSettings, roles: Sequence[str]) -> None:
    edelivery = edelivery_of(settings)
    async with service_runtime(
        "messaging",
        roles,
        database_url=settings.database_url,
        nats_url=settings.nats_url,
        streams={subjects.MESSAGING.name: subjects.MESSAGING.subjects},
        log_level=settings.log_level,
        log_json=settings.log_json,
        metrics_port=settings.metrics_port,
    ) as runtime:
        sessions = runtime.sessions
        tasks: list[Awaitable[None]] = []
        channels: list[grpc.aio.Channel] = []
        threaded: list[grpc.Channel] = []

        def register(registry: Registry) -> None:
            registry.add(
                pb_grpc.add_MessagingServiceServicer_to_server,
                MessagingServicer(sessions, runtime.events_written),
                SERVICES["MessagingService"],
            )
            # Exchanges with administrations: the person's side and the administrations' (mTLS).
            exchanges = exchanges_pb2.DESCRIPTOR.services_by_name
            # Their files go through the wallet (none without the platform CA); a thread per
            # request asks procedures.
            files = None
            if settings.platform_ca is not None:
                wallet, wallet_uploads = MessageFiles.channels(
                    settings.wallet_address,
                    settings.tls_certificate,
                    settings.tls_private_key,
                    settings.platform_ca,
                )
                channels.append(wallet)
                threaded.append(wallet_uploads)
                files = MessageFiles(wallet, wallet_uploads)
            procedures = insecure_channel(
                settings.procedures_address, timeout=settings.procedures_timeout_seconds
            )
            channels.append(procedures)
            registry.add(
                exchanges_pb2_grpc.add_ExchangeServiceServicer_to_server,
                ExchangeServicer(
                    sessions,
                    runtime.events_written,
                    files=files,
                    requests=ProcedureRequests(procedures),
                ),
                exchanges["ExchangeService"],
            )
            registry.add(
                exchanges_pb2_grpc.add_AdministrationMessagingServiceServicer_to_server,
                AdministrationMessagingServicer(sessions, runtime.events_written, files=files),
                exchanges["AdministrationMessagingService"],
            )
            if edelivery is not None:
                register_edelivery(registry, edelivery)

        def register_edelivery(registry: Registry, edelivery: EDelivery) -> None:
            assert settings.platform_ca is not None  # the settings check it with the seal
            identity = identity_channel(
                settings.identity_address,
                settings.tls_certificate,
                settings.tls_private_key,
                settings.platform_ca,
                timeout=settings.identity_timeout_seconds,
            )
            channels.append(identity)
            uploads = uploads_channel(
                settings.wallet_address,
                settings.tls_certificate,
                settings.tls_private_key,
                settings.platform_ca,
            )
            threaded.append(uploads)
            registry.add(
                edelivery_pb2_grpc.add_AdministrationDeliveryServiceServicer_to_server,
                AdministrationDeliveryServicer(
                    sessions,
                    runtime.events_written,
                    edelivery,
                    IdentityAddressees(identity),
                    WalletDocuments(uploads),
                ),
                EDELIVERY_SERVICES["AdministrationDeliveryService"],
            )
            registry.add(
                edelivery_pb2_grpc.add_EDeliveryServiceServicer_to_server,
                EDeliveryServicer(sessions, runtime.events_written, edelivery),
                EDELIVERY_SERVICES["EDeliveryService"],
            )

        if "grpc" in roles:
            verifier = TokenVerifier(
                settings.keycloak_issuer, settings.token_audience, ca_file=settings.ca_file
            )
            tasks.append(follow_account_deletions(runtime.js, verifier.revoked, runtime.stop))
            grpc_service = GrpcService(
                name="messaging",
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
            senders: dict[Channel, Sender] = {
                Channel.EMAIL: MailSender(
                    settings.smtp_host,
                    settings.smtp_port,
                    settings.mail_from,
                    settings.smtp_timeout_seconds,
                ),
                Channel.SMS: SmsSender(settings.sms_url, settings.sms_timeout_seconds),
            }
            if settings.noop_senders:
                senders = {channel: NoopSender() for channel in senders}
            worker = DeliveryWorker(
                sessions,
                senders,
                Backoff(
                    settings.delivery_base_delay_seconds,
                    settings.delivery_max_delay_seconds,
                    settings.delivery_max_attempts,
                ),
                poll_seconds=settings.delivery_poll_seconds,
                concurrency=settings.delivery_concurrency,
            )
            trackings = TrackingNotifications(
                settings.public_base_url, prefix=settings.consumer_prefix, recorded=worker.wake
            )
            for subscription in trackings.subscriptions():
                tasks.append(EventConsumer(runtime.js, sessions, subscription).run(runtime.stop))
            if settings.platform_ca is not None:
                # Persons' requests and pieces: whom to tell, and how, comes from identity.
                identity = identity_channel(
                    settings.identity_address,
                    settings.tls_certificate,
                    settings.tls_private_key,
                    settings.platform_ca,
                    timeout=settings.identity_timeout_seconds,
                )
                channels.append(identity)
                people = PersonNotifications(
                    settings.public_base_url,
                    IdentityContacts(identity),
                    prefix=settings.consumer_prefix,
                    recorded=worker.wake,
                )
                # Messaging's own events: messages acknowledged and answered, eDocuments arrived.
                exchanged = ExchangeNotifications(
                    settings.public_base_url,
                    IdentityContacts(identity),
                    prefix=settings.consumer_prefix,
                    recorded=worker.wake,
                )
                for subscription in [*people.subscriptions(), *exchanged.subscriptions()]:
                    tasks.append(
                        EventConsumer(runtime.js, sessions, subscription).run(runtime.stop)
                    )
            tasks.append(worker.run(runtime.stop))
            # F92: what is past its retention, every GUICHET_RETENTION_INTERVAL_SECONDS.
            tasks.append(retention.periodically(settings, sessions, runtime.nats, runtime.stop))
            # F8: identity's account deletions, confirmed on messaging.account.purged.v1.
            purge = AccountPurge(edelivery, f"{settings.consumer_prefix}-account-purge")
            tasks.append(
                EventConsumer(runtime.js, sessions, purge.subscription()).run(runtime.stop)
            )
            if edelivery is not None:
                # The wallet's word that an eDocument was opened: the sender's read receipt.
                read_receipts = ReadReceipts(edelivery, prefix=settings.consumer_prefix)
                tasks.append(
                    EventConsumer(runtime.js, sessions, read_receipts.subscription()).run(
                        runtime.stop
                    )
                )
                tasks.append(
                    report_unread(
                        sessions,
                        edelivery,
                        timedelta(days=settings.edelivery_unread_days),
                        settings.edelivery_unread_check_seconds,
                        runtime.stop,
                    )
                )
        try:
            await asyncio.gather(*tasks)
        finally:
            for channel in channels:
                await channel.close()
            for uploads in threaded:
                uploads.close()
