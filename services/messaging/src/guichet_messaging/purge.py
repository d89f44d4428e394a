"""F8: when identity deletes an account, messaging forgets that person's notifications and
exchanges, and confirms it on `messaging.account.purged.v1`, in the consumed event's one
transaction (identity learns of a purge that happened, never of one that did not).

- notifications addressed to `person:<national id>` go, pending ones too (nothing more is sent);
- the person's threads go with their messages and the records of their files (those sent and
  those uploaded but never sent); the files themselves are immutable copies the wallet keeps
  under their retention, which nobody can reach once messaging forgot their ids;
- eDocuments delivered to them: the receipts already given to the sending administration stay
  with it, unchanged (sealed, they name the addressee: they are the administration's proof).
  A delivery never opened gets its `unread` receipt now, since it can no longer be opened (the
  sender sends it on paper instead of waiting for the delay). The delivery row then keeps only
  what the sender's receipts listing needs: whom, the title and the file's name are blanked.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_kit.events import EventSubscription, PoisonMessage
from guichet_kit.outbox import add_event
from guichet_messaging.edelivery.models import Delivery
from guichet_messaging.edelivery.service import EDelivery
from guichet_messaging.exchanges.models import ExchangeAttachment, ExchangeMessage, ExchangeThread
from guichet_messaging.notifications.models import Notification

log = structlog.get_logger(__name__)

SERVICE = "messaging"
ACCOUNT_PURGED = subjects.account_purged(SERVICE)
# What a purged delivery row says in place of the person's data.
FORGOTTEN = ""


@dataclass(frozen=True, slots=True)
class Purged:
    notifications: int
    threads: int
    messages: int
    deliveries: int
    unread_receipts: int


async def purge_account(
    session: AsyncSession, deletion_id: str, national_id: str, edelivery: EDelivery | None
) -> Purged:
    """Everything messaging keeps about the person, in the caller's transaction. A second call
    finds nothing more to remove and confirms again (identity counts one confirmation)."""
    notifications = await session.execute(
        delete(Notification).where(Notification.owner == f"person:{national_id}")
    )
    threads = select(ExchangeThread.id).where(ExchangeThread.owner == national_id)
    messages = select(ExchangeMessage.id).where(ExchangeMessage.thread.in_(threads))
    # Sent with a message of her threads, or uploaded and never sent.
    await session.execute(
        delete(ExchangeAttachment).where(
            ExchangeAttachment.message.in_(messages) | (ExchangeAttachment.owner == national_id)
        )
    )
    removed_messages = await session.execute(
        delete(ExchangeMessage).where(ExchangeMessage.thread.in_(threads))
    )
    removed_threads = await session.execute(
        delete(ExchangeThread).where(ExchangeThread.owner == national_id)
    )
    unread = 0
    if edelivery is not None:
        # Sealed while the row still names the addressee: the sender's proof must say whom.
        unread = await edelivery.report_unread_of(session, national_id)
    deliveries = await session.execute(
        update(Delivery)
        .where(Delivery.addressee == national_id)
        .values(addressee=FORGOTTEN, title=FORGOTTEN, file_name=FORGOTTEN)
    )
    add_event(
        session,
        ACCOUNT_PURGED,
        identity_events.AccountPurged(deletion_id=deletion_id, service=SERVICE),
    )
    await session.flush()
    return Purged(
        notifications=_count(notifications),
        threads=_count(removed_threads),
        messages=_count(removed_messages),
        deliveries=_count(deliveries),
        unread_receipts=unread,
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class AccountPurge:
    """The consumer of identity's account deletions (worker role)."""

    def __init__(
        self, edelivery: EDelivery | None, durable: str = "messaging-account-purge"
    ) -> None:
        self._edelivery = edelivery
        self._durable = durable

    async def on_account_deleted(
        self, session: AsyncSession, event: identity_events.AccountDeleted
    ) -> None:
        if not event.national_id or not event.deletion_id:
            raise PoisonMessage("an account deletion without national id or deletion id")
        purged = await purge_account(session, event.deletion_id, event.national_id, self._edelivery)
        log.info(
            "messaging.account_purged",
            deletion_id=event.deletion_id,
            notifications=purged.notifications,
            threads=purged.threads,
            messages=purged.messages,
            deliveries=purged.deliveries,
            unread_receipts=purged.unread_receipts,
        )

    def subscription(
        self, stream: str = subjects.IDENTITY.name, subject: str = subjects.ACCOUNT_DELETED
    ) -> EventSubscription[identity_events.AccountDeleted]:
        return EventSubscription(
            stream=stream,
            durable=self._durable,
            subject=subject,
            event_type=identity_events.AccountDeleted,
            handler=self.on_account_deleted,
        )
