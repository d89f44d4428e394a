"""F8: when identity deletes an account, procedures forgets that person's drafts and detaches
their submitted requests.

In the consumed event's one transaction: drafts (and tombstones, and cancelled drafts) of
`person:<national id>` are deleted; submitted requests lose their owner and stay for their
administration, which must keep its files (the upkeep purges them
`administration_retention_days` after they closed); the person's name leaves requests they filed
for a company or a relation; `procedures.account.purged.v1` is written, so identity learns of a
purge that happened, never of one that did not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_kit.events import EventSubscription, PoisonMessage
from guichet_procedures.requests import service

log = structlog.get_logger(__name__)


class AccountPurge:
    def __init__(
        self,
        durable: str = "procedures-account-purge",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._durable = durable
        self._clock = clock

    async def on_account_deleted(
        self, session: AsyncSession, event: identity_events.AccountDeleted
    ) -> None:
        if not event.national_id or not event.deletion_id:
            raise PoisonMessage("an account deletion without national id or deletion id")
        deleted, detached = await service.purge_account(
            session, event.deletion_id, event.national_id, now=self._clock()
        )
        log.info(
            "procedures.account_purged",
            deletion_id=event.deletion_id,
            drafts=deleted,
            detached=detached,
        )

    def subscription(self) -> EventSubscription[identity_events.AccountDeleted]:
        return EventSubscription(
            stream=subjects.IDENTITY.name,
            durable=self._durable,
            subject=subjects.ACCOUNT_DELETED,
            event_type=identity_events.AccountDeleted,
            handler=self.on_account_deleted,
        )
