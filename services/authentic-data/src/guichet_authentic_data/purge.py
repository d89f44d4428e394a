"""F8: when identity deletes an account, authentic-data forgets what it keeps about that person,
and confirms it on `authentic-data.account.purged.v1`, in one transaction.

The registers are not the person's to delete: they belong to the administrations and stay. What
this service keeps about the person goes:

- the access log shown to them: each entry about them loses its personal part (whose data, the
  reading person, agent, request, correlation id) but keeps its hashes, so the chain still
  verifies (see `access.chain` for why the digest left behind tells nothing about them);
- their reports of wrong data; on reports they filed for someone else, their name as the filer;
- on certificates issued to them, whose they were (the certificates stay verifiable).
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as identity_events
from guichet_authentic_data.access import repository as access_log
from guichet_authentic_data.certificates import service as certificates
from guichet_authentic_data.reports import service as reports
from guichet_kit.events import EventSubscription, PoisonMessage
from guichet_kit.outbox import add_event

log = structlog.get_logger(__name__)

SERVICE = "authentic-data"
ACCOUNT_PURGED = subjects.account_purged(SERVICE)


async def purge_account(session: AsyncSession, deletion_id: str, national_id: str) -> None:
    subject = f"person:{national_id}"
    entries = await access_log.purge_subject(session, subject)
    removed = await reports.purge_person(session, national_id)
    forgotten = await certificates.forget_holder(session, subject)
    add_event(
        session,
        ACCOUNT_PURGED,
        identity_events.AccountPurged(deletion_id=deletion_id, service=SERVICE),
    )
    log.info(
        "authentic_data.account_purged",
        deletion_id=deletion_id,
        log_entries=entries,
        reports=removed,
        certificates=forgotten,
    )


async def on_account_deleted(session: AsyncSession, event: identity_events.AccountDeleted) -> None:
    if not event.national_id or not event.deletion_id:
        raise PoisonMessage("an account deletion without national id or deletion id")
    await purge_account(session, event.deletion_id, event.national_id)


def account_purge_subscription(
    durable: str = "authentic-data-account-purge",
) -> EventSubscription[identity_events.AccountDeleted]:
    return EventSubscription(
        stream=subjects.IDENTITY.name,
        durable=durable,
        subject=subjects.ACCOUNT_DELETED,
        event_type=identity_events.AccountDeleted,
        handler=on_account_deleted,
    )
