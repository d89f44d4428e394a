"""gRPC servicer of the notification centre: declared RPCs that validate, call the rules and
build the reply."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.messaging.v1 import messaging_pb2 as pb
from guichet.messaging.v1 import messaging_pb2_grpc as pb_grpc
from guichet_kit.auth import LevelOfAssurance
from guichet_kit.domain import FieldError, InvalidInput
from guichet_kit.i18n import Catalog
from guichet_kit.servicers import ANY_CONTEXT, Call, Db, DeclaredServicer, citizen, rpc
from guichet_messaging import export
from guichet_messaging.notifications import service
from guichet_messaging.notifications.models import Channel, Notification, Status

_ = Catalog("guichet_messaging")

CHANNELS = {
    Channel.EMAIL.value: pb.NOTIFICATION_CHANNEL_EMAIL,
    Channel.SMS.value: pb.NOTIFICATION_CHANNEL_SMS,
}
STATUSES = {
    Status.PENDING.value: pb.DELIVERY_STATUS_PENDING,
    Status.DELIVERED.value: pb.DELIVERY_STATUS_DELIVERED,
    Status.FAILED.value: pb.DELIVERY_STATUS_FAILED,
}


def notification_to_proto(notification: Notification) -> pb.Notification:
    reply = pb.Notification(
        id=str(notification.id),
        kind=notification.kind,
        channel=CHANNELS[notification.channel],
        recipient=notification.recipient,
        title=notification.title,
        reference=notification.reference,
        status=STATUSES[notification.status],
        attempts=notification.attempts,
    )
    reply.created_at.FromDatetime(notification.created_at)
    if notification.delivered_at is not None:
        reply.delivered_at.FromDatetime(notification.delivered_at)
    return reply


def _limit(value: int) -> int:
    if value == 0:
        return service.DEFAULT_LIST
    if not 1 <= value <= service.MAX_LIST:
        message = _("Ask for 1 to {limit} notifications.", limit=service.MAX_LIST)
        raise InvalidInput(
            "VALIDATION_FAILED", message, [FieldError("limit", "out_of_range", message)]
        )
    return value


def _token(position: service.Position) -> str:
    """Opaque to callers: the last notification's time and id."""
    text = f"{position.created_at.isoformat()}|{position.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _position(token: str) -> service.Position | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        moment, _sep, identifier = base64.urlsafe_b64decode(padded).decode().partition("|")
        position = service.Position(datetime.fromisoformat(moment), uuid.UUID(identifier))
        if position.created_at.tzinfo is None:
            raise ValueError("no time zone")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        message = _("This page token is not one this list gave.")
        raise InvalidInput(
            "VALIDATION_FAILED", message, [FieldError("page_token", "invalid", message)]
        ) from None
    return position


class MessagingServicer(DeclaredServicer, pb_grpc.MessagingServiceServicer):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        events_written: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(sessions, events_written)

    # Notifications go to a person (a company's request is told to whoever filed it), so the
    # centre lists the signed-in person's own in any acting context; acting for a company or
    # another person neither widens it to theirs nor hides the caller's.
    @rpc(citizen(contexts=ANY_CONTEXT), db=Db.READ)
    async def ListMyNotifications(
        self, request: pb.ListMyNotificationsRequest, call: Call
    ) -> pb.ListMyNotificationsResponse:
        limit = _limit(request.limit)
        after = _position(request.page_token)
        notifications, following = await service.notifications_of(
            call.session, call.person.person, limit, after
        )
        return pb.ListMyNotificationsResponse(
            notifications=[notification_to_proto(n) for n in notifications],
            next_page_token=_token(following) if following else "",
        )

    # F13: as identity's export, at a substantial sign-in (threads hold what the person wrote).
    @rpc(citizen(LevelOfAssurance.SUBSTANTIAL), db=Db.READ)
    async def ExportMessaging(
        self, request: pb.ExportMessagingRequest, call: Call
    ) -> pb.ExportMessagingResponse:
        document = await export.document_of(call.session, call.person.national_id)
        return pb.ExportMessagingResponse(
            document=json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        )
