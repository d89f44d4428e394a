"""ContactService: how a person is reached and what they chose to receive, for the platform
services that notify them (F9, F65). Served on the services port only (mutual TLS, the platform
CA): the caller is the service named by its certificate, never a person."""

from __future__ import annotations

from guichet.identity.v1 import identity_pb2 as pb
from guichet.identity.v1 import identity_pb2_grpc as pb_grpc
from guichet_identity.profile import service
from guichet_identity.profile.service import can_receive_sms
from guichet_identity.wire import preferences_to_proto
from guichet_kit.servicers import Call, Db, DeclaredServicer, platform_service, rpc

# The services that notify people; another platform service's certificate is refused.
CONTACT_READERS = ("messaging",)


class ContactServicer(DeclaredServicer, pb_grpc.ContactServiceServicer):
    @rpc(platform_service(*CONTACT_READERS), db=Db.READ)
    async def GetContact(self, request: pb.GetContactRequest, call: Call) -> pb.GetContactResponse:
        profile = await service.contact_of(call.session, request.national_id)
        return pb.GetContactResponse(
            email=profile.email,
            phone=profile.phone or "",
            phone_receives_sms=can_receive_sms(profile.phone),
            preferences=preferences_to_proto(profile.preferences),
        )
