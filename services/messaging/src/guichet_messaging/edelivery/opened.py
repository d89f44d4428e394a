"""Read receipts (F64) from the wallet's word: an eDocument served whole from its addressee's
wallet (wallet.edocument.opened.v1) becomes the sender's sealed read receipt.

Why an event and not a call from the gateway: the wallet writes the event with its "opened" mark
in one transaction (outbox), and this durable consumer records it with its `processed_events` row
in one transaction too, so a receipt is neither lost (messaging down, a crash after the download)
nor given twice (a redelivered event). The durable starts from the first event the stream holds
(not DeliverPolicy NEW as notifications do): an eDocument opened while this consumer did not exist
yet still owes its sender a receipt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import wallet_pb2 as wallet_events
from guichet_kit.events import EventSubscription, PoisonMessage
from guichet_messaging.edelivery.service import EDelivery


@dataclass
class ReadReceipts:
    """The handler of the wallet's EDocumentOpened; stream and subject are the wallet's (tests
    name scratch ones)."""

    edelivery: EDelivery
    prefix: str = "messaging"
    stream: str = subjects.WALLET.name
    subject: str = subjects.EDOCUMENT_OPENED
    backoff: tuple[float, ...] = field(default=(1.0, 5.0, 30.0))

    async def on_opened(self, session: AsyncSession, event: wallet_events.EDocumentOpened) -> None:
        kind, _, national_id = event.owner.partition(":")
        if kind != "person" or not national_id:
            raise PoisonMessage(f"an eDocument owned by no person: {event.owner!r}")
        try:
            piece_id = uuid.UUID(event.piece_id)
        except ValueError as error:
            raise PoisonMessage(f"a piece id that is no UUID: {event.piece_id!r}") from error
        read_at = event.opened_at.ToDatetime(tzinfo=UTC) if event.HasField("opened_at") else None
        # No delivery for this piece yet (NOT_FOUND) is left to raise: the wallet files the
        # document a moment before messaging records its delivery, so a download in between is
        # retried with back-off; one still unknown after the kit's limit is dead-lettered, for an
        # operator to look at, rather than dropped.
        await self.edelivery.mark_read(session, national_id, piece_id, read_at)

    def subscription(self) -> EventSubscription[wallet_events.EDocumentOpened]:
        return EventSubscription(
            stream=self.stream,
            durable=f"{self.prefix}-wallet-edocument-opened",
            subject=self.subject,
            event_type=wallet_events.EDocumentOpened,
            handler=self.on_opened,
            backoff=self.backoff,
        )
