"""What the account sub-domain publishes (AccountDeleted) and consumes (AccountPurged)."""

from __future__ import annotations

from collections.abc import Sequence

from guichet.events import subjects
from guichet.events.v1 import identity_pb2 as events_pb2
from guichet_identity.account import deletion as protocol
from guichet_identity.account.models import AccountDeletion
from guichet_kit.events import EventSubscription

# Declared once beside the contracts: the services that follow deletions read the same names.
STREAM = subjects.IDENTITY.name
STREAM_SUBJECTS = subjects.IDENTITY.subjects
ACCOUNT_DELETED = subjects.ACCOUNT_DELETED
PURGE_CONFIRMATIONS_DURABLE = "identity-purge-confirmations"


def account_deleted(deletion: AccountDeletion, national_id: str) -> events_pb2.AccountDeleted:
    event = events_pb2.AccountDeleted(
        deletion_id=str(deletion.id), subject=deletion.subject, national_id=national_id
    )
    event.occurred_at.FromDatetime(deletion.requested_at)
    return event


def purge_confirmation_subscriptions(
    purge_services: Sequence[str],
) -> list[EventSubscription[events_pb2.AccountPurged]]:
    """One durable consumer per service that must purge; a service joins by configuration.

    Each reads `<service>.account.purged.v1` on the service's own stream (`<SERVICE>`); the
    durable name may repeat, since consumer names are scoped by stream.
    """
    return [
        EventSubscription(
            stream=name.upper(),
            durable=PURGE_CONFIRMATIONS_DURABLE,
            subject=subjects.account_purged(name),
            event_type=events_pb2.AccountPurged,
            handler=protocol.purge_confirmation_handler(name),
        )
        for name in purge_services
    ]
