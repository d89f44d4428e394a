"""F65: eTracking's events become notifications to the address and number the applicant gave
when opting in (also for anonymous trackings), in the language they chose.

Consumed by durable consumers `<prefix>-etracking-created` and `<prefix>-etracking-status`: each
event is recorded in the consumer's transaction with its `processed_events` row, so a
redelivered event records nothing twice; the delivery worker sends what was recorded. A durable
created for the first time starts with the events published after it (a new deployment does not
tell people about last year's status changes); from then on it keeps its place.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from nats.js.api import DeliverPolicy
from sqlalchemy.ext.asyncio import AsyncSession

from guichet.etracking.v1 import etracking_pb2 as etracking_pb
from guichet.events import subjects
from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet_kit.events import EventSubscription, PoisonMessage
from guichet_kit.references import InvalidReference
from guichet_kit.values import InvalidValue, parse_email, parse_phone
from guichet_messaging.notifications import compose, service

log = structlog.get_logger(__name__)

CREATED = "etracking.created"
STATUS_CHANGED = "etracking.status_changed"
_STATUS_PREFIX = "TRACKING_STATUS_"


def _recipient(contact: events_pb2.TrackingContact) -> service.Recipient:
    try:
        email = parse_email(contact.email) if contact.email else None
        phone = parse_phone(contact.phone) if contact.phone else None
    except InvalidValue as error:
        raise PoisonMessage(f"a contact that is no address or number: {error.reason}") from error
    return service.Recipient(compose.language_of(contact.language), email, phone)


def _number(text: str) -> compose.TrackingNumber:
    try:
        return compose.TrackingNumber.parse(text)
    except InvalidReference as error:
        raise PoisonMessage(f"no eTracking number: {error.problem}") from error


def _status(value: int) -> str:
    try:
        name = etracking_pb.TrackingStatus.Name(value)  # type: ignore[arg-type]
    except ValueError:
        raise PoisonMessage(f"an unknown tracking status {value}") from None
    return name.removeprefix(_STATUS_PREFIX).lower()


@dataclass
class TrackingNotifications:
    """The handlers of etracking's events; `stream` and the subjects are etracking's (tests name
    scratch ones)."""

    base_url: str
    prefix: str = "messaging"
    stream: str = subjects.ETRACKING.name
    created_subject: str = subjects.TRACKING_CREATED
    status_changed_subject: str = subjects.TRACKING_STATUS_CHANGED
    backoff: tuple[float, ...] = field(default=(1.0, 5.0, 30.0))
    # Called once an event's notifications are committed (the delivery worker's wake-up).
    recorded: Callable[[], None] | None = None

    async def on_created(self, session: AsyncSession, event: events_pb2.TrackingCreated) -> None:
        number = _number(event.number)
        recipient = _recipient(event.contact)
        composed = compose.tracking_created(
            number, event.paper_form_code, recipient.language, self.base_url
        )
        added = await service.record(
            session,
            event_id=uuid.UUID(event.event_id),
            kind=CREATED,
            reference=number.display,
            recipient=recipient,
            composed=composed,
        )
        log.info("messaging.notifications_recorded", kind=CREATED, count=added)

    async def on_status_changed(
        self, session: AsyncSession, event: events_pb2.TrackingStatusChanged
    ) -> None:
        number = _number(event.number)
        recipient = _recipient(event.contact)
        try:
            composed = compose.tracking_status_changed(
                number,
                _status(event.status),
                event.comment,
                recipient.language,
                self.base_url,
            )
        except compose.UnknownStatus as error:
            raise PoisonMessage(f"a status without words: {error}") from error
        added = await service.record(
            session,
            event_id=uuid.UUID(event.event_id),
            kind=STATUS_CHANGED,
            reference=number.display,
            recipient=recipient,
            composed=composed,
        )
        log.info("messaging.notifications_recorded", kind=STATUS_CHANGED, count=added)

    def subscriptions(self) -> list[EventSubscription[Any]]:
        return [
            EventSubscription(
                stream=self.stream,
                durable=f"{self.prefix}-etracking-created",
                subject=self.created_subject,
                event_type=events_pb2.TrackingCreated,
                handler=self.on_created,
                backoff=self.backoff,
                deliver_policy=DeliverPolicy.NEW,
                on_applied=self.recorded,
            ),
            EventSubscription(
                stream=self.stream,
                durable=f"{self.prefix}-etracking-status",
                subject=self.status_changed_subject,
                event_type=events_pb2.TrackingStatusChanged,
                handler=self.on_status_changed,
                backoff=self.backoff,
                deliver_policy=DeliverPolicy.NEW,
                on_applied=self.recorded,
            ),
        ]
