from itertools import product

import pytest

from guichet_etracking.tracking.contact import Language
from guichet_etracking.tracking.status import (
    TrackingStatus,
    TransitionNotAllowed,
    check_transition,
    is_final,
    status_label,
)

S = TrackingStatus
ALLOWED = {
    (S.AWAITING_PAPER_FORM, S.RECEIVED),
    (S.AWAITING_PAPER_FORM, S.WITHDRAWN),
    (S.RECEIVED, S.IN_PROCESSING),
    (S.RECEIVED, S.REJECTED),
    (S.RECEIVED, S.AWAITING_DOCUMENTS),
    (S.IN_PROCESSING, S.AWAITING_DOCUMENTS),
    (S.IN_PROCESSING, S.COMPLETED),
    (S.IN_PROCESSING, S.REJECTED),
    (S.AWAITING_DOCUMENTS, S.IN_PROCESSING),
    (S.AWAITING_DOCUMENTS, S.REJECTED),
    (S.AWAITING_DOCUMENTS, S.WITHDRAWN),
}
ALL_PAIRS = list(product(TrackingStatus, TrackingStatus))


def test_statuses_have_their_stored_values() -> None:
    assert [s.value for s in TrackingStatus] == [
        "awaiting_paper_form",
        "received",
        "in_processing",
        "awaiting_documents",
        "completed",
        "rejected",
        "withdrawn",
    ]


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transition_passes(current: TrackingStatus, target: TrackingStatus) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in ALLOWED])
def test_refused_transition_raises_a_clear_error(
    current: TrackingStatus, target: TrackingStatus
) -> None:
    with pytest.raises(TransitionNotAllowed) as refused:
        check_transition(current, target)
    assert f"from '{current}' to '{target}'" in str(refused.value)
    assert (refused.value.current, refused.value.target) == (current, target)
    assert refused.value.reason == "TRANSITION_NOT_ALLOWED"


@pytest.mark.parametrize("status", list(TrackingStatus))
def test_only_completed_rejected_and_withdrawn_are_final(status: TrackingStatus) -> None:
    assert is_final(status) == (status in {S.COMPLETED, S.REJECTED, S.WITHDRAWN})


def test_a_final_status_says_it_is_final() -> None:
    with pytest.raises(TransitionNotAllowed, match="'completed' is final"):
        check_transition(S.COMPLETED, S.IN_PROCESSING)


def test_a_refusal_names_the_statuses_that_may_follow() -> None:
    with pytest.raises(TransitionNotAllowed, match="only 'received', 'withdrawn' can follow"):
        check_transition(S.AWAITING_PAPER_FORM, S.COMPLETED)


@pytest.mark.parametrize("language", list(Language))
def test_every_status_has_a_distinct_label_in_each_language(language: Language) -> None:
    labels = [status_label(status, language) for status in TrackingStatus]
    assert all(label.strip() for label in labels)
    assert len(set(labels)) == len(labels)


def test_labels_read_as_a_user_would_expect() -> None:
    assert status_label(S.IN_PROCESSING, Language.FR) == "En cours de traitement"
    assert status_label(S.IN_PROCESSING, Language.DE) == "In Bearbeitung"
    assert status_label(S.RECEIVED, Language.EN) == "Received by the administration"
