"""F8: when identity deletes an account, etracking forgets that person's trackings."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_etracking.tracking import service
from guichet_kit.events import EventSubscription, PoisonMessage

log = structlog.get_logger(__name__)


async def on_account_deleted(session: AsyncSession, event: identity_events.AccountDeleted) -> None:
    if not event.national_id or not event.deletion_id:
        raise PoisonMessage("an account deletion without national id or deletion id")
    removed = await service.purge_account(session, event.deletion_id, event.national_id)
    log.info("etracking.account_purged", deletion_id=event.deletion_id, trackings=removed)


def account_purge_subscription() -> EventSubscription[identity_events.AccountDeleted]:
    return EventSubscription(
        stream=subjects.IDENTITY.name,
        durable="etracking-account-purge",
        subject=subjects.ACCOUNT_DELETED,
        event_type=identity_events.AccountDeleted,
        handler=on_account_deleted,
    )
