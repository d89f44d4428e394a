"""The notification centre a page at a time: newest first, each notification once across the
pages, the last page without a token; a token the list did not give is refused, changing nothing."""

from __future__ import annotations

import uuid

import grpc
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.messaging.v1 import messaging_pb2 as pb
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.db import transaction
from guichet_kit.errors import ServiceError
from guichet_kit.i18n import Language
from guichet_messaging.notifications import service
from guichet_messaging.notifications.compose import Composed, Mail, Sms
from guichet_messaging.notifications.grpc import MessagingServicer

ANNE = "1980010100017"


async def _notify(sessions: async_sessionmaker[AsyncSession], reference: str) -> None:
    # One transaction per event: both channels share its time, the id orders them.
    async with transaction(sessions) as session:
        await service.record(
            session,
            event_id=uuid.uuid4(),
            kind="procedures.request_submitted",
            reference=reference,
            recipient=service.Recipient(
                Language.EN, "anne@example.org", "+352691000001", f"person:{ANNE}"
            ),
            composed=Composed(Mail(reference, "text", "<p>html</p>"), Sms(reference)),
        )


async def _page(
    sessions: async_sessionmaker[AsyncSession], limit: int, token: str = ""
) -> pb.ListMyNotificationsResponse:
    set_caller(Principal("kc-anne", LevelOfAssurance.LOW, ANNE, "anne@example.org", "Anne", "t"))
    try:
        return await MessagingServicer(sessions).ListMyNotifications(
            pb.ListMyNotificationsRequest(limit=limit, page_token=token),
            None,  # type: ignore[arg-type]
        )
    finally:
        set_caller(None)


async def test_pages_give_each_notification_once_newest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for reference in ("PR-1", "PR-2", "PR-3"):
        await _notify(sessions, reference)  # two notifications each

    seen: list[pb.Notification] = []
    token, pages = "", 0
    while True:
        reply = await _page(sessions, 4, token)
        seen.extend(reply.notifications)
        pages += 1
        token = reply.next_page_token
        if not token:
            break

    assert pages == 2
    assert len({n.id for n in seen}) == len(seen) == 6
    assert [n.reference for n in seen] == ["PR-3", "PR-3", "PR-2", "PR-2", "PR-1", "PR-1"]


async def test_a_full_last_page_gives_no_token(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _notify(sessions, "PR-1")

    reply = await _page(sessions, 2)

    assert len(reply.notifications) == 2 and reply.next_page_token == ""


@pytest.mark.parametrize("token", ["nonsense", "bm90IGEgdG9rZW4", "MjAyNnwx"])
async def test_a_token_the_list_did_not_give_is_refused(
    sessions: async_sessionmaker[AsyncSession], token: str
) -> None:
    with pytest.raises(ServiceError) as refused:
        await _page(sessions, 2, token)

    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_FAILED",
    )
    assert [error.field for error in refused.value.field_errors] == ["page_token"]
