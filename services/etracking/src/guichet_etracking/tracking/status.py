"""Where a tracked paper form stands, and which moves an administration may make."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from guichet_kit.domain import Conflict
from guichet_kit.i18n import N_, Catalog, Language

_ = Catalog("guichet_etracking")


class TrackingStatus(StrEnum):
    AWAITING_PAPER_FORM = "awaiting_paper_form"  # sheet printed, form not yet received
    RECEIVED = "received"
    IN_PROCESSING = "in_processing"
    AWAITING_DOCUMENTS = "awaiting_documents"  # the administration asked for more
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


_S = TrackingStatus
ALLOWED_TRANSITIONS: Mapping[TrackingStatus, frozenset[TrackingStatus]] = MappingProxyType(
    {
        _S.AWAITING_PAPER_FORM: frozenset({_S.RECEIVED, _S.WITHDRAWN}),
        _S.RECEIVED: frozenset({_S.IN_PROCESSING, _S.REJECTED, _S.AWAITING_DOCUMENTS}),
        _S.IN_PROCESSING: frozenset({_S.AWAITING_DOCUMENTS, _S.COMPLETED, _S.REJECTED}),
        _S.AWAITING_DOCUMENTS: frozenset({_S.IN_PROCESSING, _S.REJECTED, _S.WITHDRAWN}),
        _S.COMPLETED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.WITHDRAWN: frozenset(),
    }
)

# The wording shown on the public lookup page and in notifications (English ids, .po files).
_LABELS: Mapping[TrackingStatus, str] = MappingProxyType(
    {
        _S.AWAITING_PAPER_FORM: N_("Waiting for your paper form"),
        _S.RECEIVED: N_("Received by the administration"),
        _S.IN_PROCESSING: N_("Being processed"),
        _S.AWAITING_DOCUMENTS: N_("Waiting for additional documents"),
        _S.COMPLETED: N_("Processing completed"),
        _S.REJECTED: N_("Request rejected"),
        _S.WITHDRAWN: N_("Withdrawn"),
    }
)


class TransitionNotAllowed(Conflict):
    """An administration tried a status change the life cycle does not allow."""

    def __init__(self, current: TrackingStatus, target: TrackingStatus) -> None:
        allowed = sorted(ALLOWED_TRANSITIONS[current])
        if not allowed:
            message = _(
                "An eTracking cannot move from '{current}' to '{target}': '{current}' is final.",
                current=current.value,
                target=target.value,
            )
        else:
            message = _(
                "An eTracking cannot move from '{current}' to '{target}': "
                "from there only {allowed} can follow.",
                current=current.value,
                target=target.value,
                allowed=", ".join(f"'{s}'" for s in allowed),
            )
        super().__init__("TRANSITION_NOT_ALLOWED", message)
        self.current = current
        self.target = target


def is_final(status: TrackingStatus) -> bool:
    return not ALLOWED_TRANSITIONS[status]


def check_transition(current: TrackingStatus, target: TrackingStatus) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise TransitionNotAllowed(current, target)


def status_label(status: TrackingStatus, language: Language) -> str:
    """The wording shown on the public lookup page and in notifications."""
    return _.gettext(_LABELS[status], language)
