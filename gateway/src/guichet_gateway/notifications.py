"""/api/v1/notifications: the signed-in person's notification centre (F65) — what the platform
sent them, on which channel, and where its delivery stands. Newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from guichet.messaging.v1 import messaging_pb2 as pb
from guichet_gateway.deps import Calls, CurrentUser
from guichet_gateway.openapi import refusals
from guichet_gateway.wire import enum_word, timestamp

router = APIRouter(prefix="/api/v1", tags=["notifications"])

# The bounds the messaging service applies.
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# A page token is a time and an id, encoded: far shorter than this.
MAX_PAGE_TOKEN = 200


class NotificationOut(BaseModel):
    id: str
    # What it is about, e.g. "procedures.request_status_changed".
    kind: str
    channel: Literal["email", "sms"]
    # The address or number it went to.
    recipient: str
    # The mail's subject, or the SMS text.
    title: str
    reference: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    created_at: datetime | None
    delivered_at: datetime | None


class NotificationsOut(BaseModel):
    notifications: list[NotificationOut]
    # Give it as `page_token` for the next (older) page; empty on the last page.
    next_page_token: str


def notification_out(notification: pb.Notification) -> NotificationOut:
    return NotificationOut(
        id=notification.id,
        kind=notification.kind,
        channel=enum_word(
            pb.NotificationChannel.Name(notification.channel), "NOTIFICATION_CHANNEL_"
        ),
        recipient=notification.recipient,
        title=notification.title,
        reference=notification.reference,
        status=enum_word(pb.DeliveryStatus.Name(notification.status), "DELIVERY_STATUS_"),
        attempts=notification.attempts,
        created_at=timestamp(notification.created_at),
        delivered_at=timestamp(notification.delivered_at),
    )


async def list_notifications(
    calls: Calls, limit: int = DEFAULT_LIMIT, page_token: str = ""
) -> NotificationsOut:
    reply = await calls.messaging.ListMyNotifications(
        pb.ListMyNotificationsRequest(limit=limit, page_token=page_token)
    )
    return NotificationsOut(
        notifications=[notification_out(n) for n in reply.notifications],
        next_page_token=reply.next_page_token,
    )


@router.get(
    "/notifications",
    response_model=NotificationsOut,
    responses=refusals({422: "A limit out of 1 to 100, or a page token this list did not give."}),
)
async def get_notifications(
    calls: Calls,
    user: CurrentUser,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this many, the newest first")
    ] = DEFAULT_LIMIT,
    page_token: Annotated[
        str,
        Query(max_length=MAX_PAGE_TOKEN, description="`next_page_token` of the previous page"),
    ] = "",
) -> NotificationsOut:
    """The caller's own notifications (e-mails and SMS), newest first, with their delivery
    status; a page at a time."""
    return await list_notifications(calls, limit, page_token)
