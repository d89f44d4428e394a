"""The notification centre: a signed-in person lists the notifications sent to them, newest
first, with their delivery status; never anyone else's. (eTracking's events name no account,
so the rows are recorded here as a later kind of event will record them, with their owner.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.messaging.v1 import messaging_pb2 as pb
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.db import transaction
from guichet_kit.errors import ServiceError
from guichet_kit.i18n import Language
from guichet_messaging.notifications import compose, service
from guichet_messaging.notifications.grpc import MessagingServicer
from guichet_messaging.notifications.models import Notification

ANNE, BOB = "1980010112345", "1975060600123"
ET_A, ET_B = compose.TrackingNumber.generate(), compose.TrackingNumber.generate()
NO_CONTEXT: object = None


def person(national_id: str) -> Principal:
    return Principal(
        subject=f"kc-{uuid.uuid4().hex[:8]}",
        level=LevelOfAssurance.LOW,
        national_id=national_id,
        email="anne@example.org",
        name="Anne Muller",
        token="not-checked-in-process",
    )


async def _notify(
    sessions: async_sessionmaker[AsyncSession],
    owner: str,
    number: compose.TrackingNumber,
    phone: str | None,
) -> None:
    composed = compose.tracking_status_changed(number, "received", "", Language.EN, "https://x")
    recipient = service.Recipient(Language.EN, "anne@example.org", phone, owner=owner)
    async with transaction(sessions) as session:
        await service.record(
            session,
            event_id=uuid.uuid4(),
            kind="etracking.status_changed",
            reference=number.display,
            recipient=recipient,
            composed=composed,
        )


async def test_a_person_lists_their_notifications_with_their_status(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _notify(sessions, f"person:{ANNE}", ET_A, "+352691000001")
    await _notify(sessions, f"person:{BOB}", ET_B, None)
    async with transaction(sessions) as session:
        anne_mail = await session.scalar(
            select(Notification).where(
                Notification.owner == f"person:{ANNE}", Notification.channel == "email"
            )
        )
        assert anne_mail is not None
        service.delivered(anne_mail, datetime.now(UTC))

    set_caller(person(ANNE))
    servicer = MessagingServicer(sessions)
    reply = await servicer.ListMyNotifications(pb.ListMyNotificationsRequest(), NO_CONTEXT)  # type: ignore[arg-type]

    assert {n.reference for n in reply.notifications} == {ET_A.display}
    assert sorted(n.channel for n in reply.notifications) == [
        pb.NOTIFICATION_CHANNEL_EMAIL,
        pb.NOTIFICATION_CHANNEL_SMS,
    ]
    by_channel = {n.channel: n for n in reply.notifications}
    mail, sms = by_channel[pb.NOTIFICATION_CHANNEL_EMAIL], by_channel[pb.NOTIFICATION_CHANNEL_SMS]
    assert (mail.status, mail.attempts, mail.HasField("delivered_at")) == (
        pb.DELIVERY_STATUS_DELIVERED,
        1,
        True,
    )
    assert (sms.status, sms.attempts, sms.HasField("delivered_at")) == (
        pb.DELIVERY_STATUS_PENDING,
        0,
        False,
    )
    assert mail.title == f"eTracking {ET_A.display}: Received by the administration"
    assert sms.title.startswith(
        f"OpenGuichet: eTracking {ET_A.display}: Received by the administration."
    )
    assert (mail.recipient, sms.recipient) == ("anne@example.org", "+352691000001")

    limited = await servicer.ListMyNotifications(
        pb.ListMyNotificationsRequest(limit=1),
        NO_CONTEXT,  # type: ignore[arg-type]
    )
    assert len(limited.notifications) == 1


@pytest.mark.parametrize("limit", [-1, 101])
async def test_a_limit_out_of_range_is_refused(
    sessions: async_sessionmaker[AsyncSession], limit: int
) -> None:
    set_caller(person(ANNE))
    with pytest.raises(ServiceError) as refused:
        await MessagingServicer(sessions).ListMyNotifications(
            pb.ListMyNotificationsRequest(limit=limit),
            NO_CONTEXT,  # type: ignore[arg-type]
        )
    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_FAILED",
    )


async def test_without_signing_in_nothing_is_listed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _notify(sessions, f"person:{ANNE}", ET_A, None)
    set_caller(None)
    with pytest.raises(ServiceError) as refused:
        await MessagingServicer(sessions).ListMyNotifications(
            pb.ListMyNotificationsRequest(),
            NO_CONTEXT,  # type: ignore[arg-type]
        )
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
