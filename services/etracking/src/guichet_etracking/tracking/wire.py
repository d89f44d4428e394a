"""Translation between eTracking's domain and its protobuf messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from guichet.etracking.v1 import etracking_pb2 as pb
from guichet_etracking.tracking.catalogue import PaperForm, find_paper_form
from guichet_etracking.tracking.contact import Language
from guichet_etracking.tracking.number import parse_tracking_number
from guichet_etracking.tracking.status import TrackingStatus, status_label

_PREFIX = "TRACKING_STATUS_"


def status_to_proto(status: TrackingStatus) -> pb.TrackingStatus.ValueType:
    return pb.TrackingStatus.Value(_PREFIX + status.value.upper())


def status_from_proto(value: pb.TrackingStatus.ValueType) -> TrackingStatus | None:
    """None for UNSPECIFIED or a number this version does not know."""
    name = pb.TrackingStatus.Name(value) if value in pb.TrackingStatus.values() else ""
    if not name.startswith(_PREFIX) or value == pb.TRACKING_STATUS_UNSPECIFIED:
        return None
    return TrackingStatus(name.removeprefix(_PREFIX).lower())


def paper_form_to_proto(form: PaperForm, language: Language) -> pb.PaperForm:
    return pb.PaperForm(
        code=form.code, administration=form.administration.value, title=form.title(language)
    )


class StatusChangeLike(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...


class TrackingLike(Protocol):
    """A tracking as stored (`models.Tracking`) or as read (`repository.TrackingView`)."""

    @property
    def number(self) -> str: ...
    @property
    def paper_form_code(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def history(self) -> Sequence[StatusChangeLike]: ...


def tracking_to_proto(tracking: TrackingLike, language: Language) -> pb.Tracking:
    """The public view: number, form, status and history; never the contact data."""
    status = TrackingStatus(tracking.status)
    message = pb.Tracking(
        number=parse_tracking_number(tracking.number).display,
        paper_form=paper_form_to_proto(find_paper_form(tracking.paper_form_code), language),
        status=status_to_proto(status),
        status_label=status_label(status, language),
    )
    message.created_at.FromDatetime(tracking.created_at)
    for change in tracking.history:
        changed = TrackingStatus(change.status)
        entry = message.history.add(
            status=status_to_proto(changed), status_label=status_label(changed, language)
        )
        entry.occurred_at.FromDatetime(change.occurred_at)
    return message
