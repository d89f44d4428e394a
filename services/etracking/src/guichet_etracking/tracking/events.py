"""What eTracking publishes: its stream, its subjects, and the event payloads it builds."""

from __future__ import annotations

from guichet.events import subjects
from guichet.events.v1 import etracking_pb2 as events_pb2
from guichet.events.v1 import identity_pb2 as identity_events_pb2
from guichet_etracking.tracking.models import Tracking
from guichet_etracking.tracking.status import TrackingStatus
from guichet_etracking.tracking.wire import status_to_proto

SERVICE = "etracking"
STREAM = subjects.ETRACKING
TRACKING_CREATED = subjects.TRACKING_CREATED
TRACKING_STATUS_CHANGED = subjects.TRACKING_STATUS_CHANGED
ACCOUNT_PURGED = subjects.account_purged(SERVICE)


def account_purged(deletion_id: str) -> identity_events_pb2.AccountPurged:
    return identity_events_pb2.AccountPurged(deletion_id=deletion_id, service=SERVICE)


def _contact(tracking: Tracking) -> events_pb2.TrackingContact:
    return events_pb2.TrackingContact(
        email=tracking.email or "", phone=tracking.phone or "", language=tracking.language
    )


def tracking_created(tracking: Tracking) -> events_pb2.TrackingCreated:
    event = events_pb2.TrackingCreated(
        number=tracking.number,
        paper_form_code=tracking.paper_form_code,
        administration=tracking.administration,
        contact=_contact(tracking),
    )
    event.occurred_at.FromDatetime(tracking.created_at)
    return event


def tracking_status_changed(
    tracking: Tracking, previous: TrackingStatus, comment: str
) -> events_pb2.TrackingStatusChanged:
    event = events_pb2.TrackingStatusChanged(
        number=tracking.number,
        paper_form_code=tracking.paper_form_code,
        administration=tracking.administration,
        previous_status=status_to_proto(previous),
        status=status_to_proto(TrackingStatus(tracking.status)),
        comment=comment,
        contact=_contact(tracking),
    )
    event.occurred_at.FromDatetime(tracking.updated_at)
    return event
