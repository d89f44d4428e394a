"""Identity's ContactService as messaging reaches it: its services port, mutual TLS with
messaging's platform certificate (the certificate says who asks; no person's token goes there)."""

from __future__ import annotations

from pathlib import Path

import grpc

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_kit.auth import in_own_name
from guichet_kit.events import PoisonMessage
from guichet_kit.grpc_client import mutual_tls_channel
from guichet_messaging.notifications.compose import language_of
from guichet_messaging.notifications.person_events import Contact


def identity_channel(
    address: str, certificate: Path, private_key: Path, platform_ca: Path, *, timeout: float
) -> grpc.aio.Channel:
    return mutual_tls_channel(
        address,
        ca=platform_ca.read_bytes(),
        certificate=certificate.read_bytes(),
        private_key=private_key.read_bytes(),
        timeout=timeout,
    )


class IdentityContacts:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pb_grpc.ContactServiceStub(channel)

    async def contact_of(self, national_id: str) -> Contact | None:
        try:
            with in_own_name():
                reply = await self._stub.GetContact(pb.GetContactRequest(national_id=national_id))
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None  # no account (any more): nobody to tell
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise PoisonMessage("an owner whose national id identity refuses") from error
            raise  # an outage is transient: the event is retried
        preferences = reply.preferences
        return Contact(
            email=reply.email,
            mobile=reply.phone if reply.phone_receives_sms else None,
            email_notifications=preferences.email_notifications,
            sms_notifications=preferences.sms_notifications,
            language=language_of(preferences.language),
        )
