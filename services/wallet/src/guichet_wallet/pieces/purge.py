"""F8: when identity deletes an account, the wallet removes every piece of that person.

In the consumed event's one transaction: every row of `person:<national id>` — pieces, their
files and versions, received eDocuments — is deleted and `wallet.account.purged.v1` is written,
so identity learns of a purge that happened, never of one that did not. The objects are removed
once that transaction commits (`ObjectRemovals`); a removal that fails, or a worker that dies
first, leaves objects no row names, which the sweep removes.

Immutable copies made for requests are not the person's wallet but the requests' record, held
for the procedure under object lock until their retention ends: they stay, and stay readable only
by the service that made them; that service's own purge decides about its requests.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_kit.events import EventSubscription, PoisonMessage
from guichet_wallet.pieces import service
from guichet_wallet.pieces.removals import ObjectRemovals

log = structlog.get_logger(__name__)


class AccountPurge:
    def __init__(self, removals: ObjectRemovals, durable: str = "wallet-account-purge") -> None:
        self._removals = removals
        self._durable = durable

    async def on_account_deleted(
        self, session: AsyncSession, event: identity_events.AccountDeleted
    ) -> None:
        if not event.national_id or not event.deletion_id:
            raise PoisonMessage("an account deletion without national id or deletion id")
        objects = await service.purge_account(session, event.deletion_id, event.national_id)
        self._removals.after_commit(session, objects)
        log.info("wallet.account_purged", deletion_id=event.deletion_id, objects=len(objects))

    def subscription(self) -> EventSubscription[identity_events.AccountDeleted]:
        return EventSubscription(
            stream=subjects.IDENTITY.name,
            durable=self._durable,
            subject=subjects.ACCOUNT_DELETED,
            event_type=identity_events.AccountDeleted,
            handler=self.on_account_deleted,
        )
