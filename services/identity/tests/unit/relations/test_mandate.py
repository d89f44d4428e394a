from datetime import UTC, date, datetime, timedelta

import pytest

from guichet_identity.relations.mandate import (
    MandateTerms,
    Refusal,
    anniversary,
    coming_of_age,
    in_force,
    is_minor,
    latest_mandate_expiry,
    mandate_expiry_problem,
    refusal,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACTOR = "1985031404234"


def _terms(**changes: object) -> MandateTerms:
    values: dict[str, object] = {
        "actor_national_id": ACTOR,
        "rights": ["etracking:write"],
        "expires_at": NOW + timedelta(days=1),
        "revoked_at": None,
    }
    values.update(changes)
    return MandateTerms(**values)  # type: ignore[arg-type]


def test_a_valid_mandate_allows_its_rights() -> None:
    assert refusal(_terms(), ACTOR, "etracking:read", NOW) is None
    assert refusal(_terms(), ACTOR, "etracking:write", NOW) is None


def test_no_relation_is_no_such_context() -> None:
    assert refusal(None, ACTOR, "etracking:read", NOW) is Refusal.NO_SUCH_CONTEXT


def test_someone_elses_relation_is_no_such_context() -> None:
    assert refusal(_terms(), "2000010100123", "etracking:read", NOW) is Refusal.NO_SUCH_CONTEXT


def test_a_revoked_mandate_is_refused_even_before_it_expires() -> None:
    terms = _terms(revoked_at=NOW - timedelta(minutes=1))

    assert refusal(terms, ACTOR, "etracking:read", NOW) is Refusal.REVOKED


def test_a_mandate_ends_at_its_expiry_instant() -> None:
    terms = _terms(expires_at=NOW)

    assert refusal(terms, ACTOR, "etracking:read", NOW - timedelta(microseconds=1)) is None
    assert refusal(terms, ACTOR, "etracking:read", NOW) is Refusal.EXPIRED


def test_a_right_not_in_the_mandate_is_refused() -> None:
    assert refusal(_terms(), ACTOR, "wallet:read", NOW) is Refusal.RIGHT_NOT_GRANTED


def test_a_child_comes_of_age_at_midnight_in_luxembourg() -> None:
    # 1 June 2025 00:00 in Luxembourg (summer time) is 31 May 22:00 UTC.
    assert coming_of_age(date(2007, 6, 1)) == datetime(2025, 5, 31, 22, 0, tzinfo=UTC)


def test_a_child_born_on_29_february_comes_of_age_on_1_march() -> None:
    assert anniversary(date(2008, 2, 29), 18) == date(2026, 3, 1)
    assert anniversary(date(2008, 2, 29), 16) == date(2024, 2, 29)


def test_minority_ends_on_the_eighteenth_birthday() -> None:
    assert is_minor(date(2007, 6, 2), NOW)
    assert not is_minor(date(2007, 6, 1), NOW)


@pytest.mark.parametrize(
    ("expires_at", "problem"),
    [
        (None, "required"),
        (NOW, "in_the_past"),
        (NOW - timedelta(days=1), "in_the_past"),
        (NOW + timedelta(seconds=1), None),
        (latest_mandate_expiry(NOW), None),
        (latest_mandate_expiry(NOW) + timedelta(seconds=1), "too_far"),
    ],
)
def test_a_mandate_ends_in_the_future_and_within_five_years(
    expires_at: datetime | None, problem: str | None
) -> None:
    assert mandate_expiry_problem(expires_at, NOW) == problem


def test_five_years_ahead_is_the_same_instant_five_years_later() -> None:
    assert latest_mandate_expiry(NOW) == datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def test_a_relation_is_in_force_until_it_expires_or_is_revoked() -> None:
    assert in_force(_terms(), NOW)
    assert not in_force(_terms(expires_at=NOW), NOW)
    assert not in_force(_terms(expires_at=NOW - timedelta(seconds=1)), NOW)
    assert not in_force(_terms(revoked_at=NOW - timedelta(days=1)), NOW)


def test_a_relation_without_rights_is_not_in_force() -> None:
    assert not in_force(_terms(rights=[]), NOW)
