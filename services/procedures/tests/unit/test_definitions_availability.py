"""A definition's quota and opening days (F33): read into typed values, every wrong value refused
with its path."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from guichet_procedures.definitions.loader import load_definition
from guichet_procedures.definitions.model import PeriodLimit, Quota, parse_definition

from .test_definitions import HEAD, STATUSES, STEPS, problems_of, raw


def test_quota_and_days_read_into_typed_values() -> None:
    definition = parse_definition(
        raw()
        | {
            "quota": {
                "total": 500,
                "per_period": {"limit": 50, "period": "month"},
                "per_person": 1,
            },
            "opens_on": "2025-09-01",
            "closes_on": "2025-12-31",
        }
    )
    assert definition.quota == Quota(500, PeriodLimit(50, "month"), 1)
    assert (definition.opens_on, definition.closes_on) == (date(2025, 9, 1), date(2025, 12, 31))


def test_without_them_a_procedure_has_no_limit() -> None:
    definition = parse_definition(raw())
    assert (definition.quota, definition.opens_on, definition.closes_on) == (None, None, None)


def test_each_limit_is_optional_and_a_single_day_is_a_window() -> None:
    definition = parse_definition(
        raw() | {"quota": {"per_person": 2}, "opens_on": "2025-01-10", "closes_on": "2025-01-10"}
    )
    assert definition.quota == Quota(per_person=2)


def test_unquoted_yaml_dates_are_read_and_published_as_text() -> None:
    text = HEAD + STATUSES + STEPS + "opens_on: 2025-09-01\nquota: {total: 3}\n"
    loaded = load_definition(text)
    assert loaded.document["opens_on"] == "2025-09-01"
    # What is published is read back the same way.
    assert parse_definition(loaded.document).opens_on == date(2025, 9, 1)
    assert loaded.definition.quota == Quota(total=3)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"quota": {"total": 0}}, "quota.total: expected a number from 1 to 1000000"),
        ({"quota": {"total": -5}}, "quota.total: expected a number from 1 to 1000000"),
        ({"quota": {"total": 2.5}}, "quota.total: expected a whole number"),
        ({"quota": {"total": True}}, "quota.total: expected a whole number"),
        ({"quota": {"total": "10"}}, "quota.total: expected a whole number"),
        ({"quota": {"per_person": 0}}, "quota.per_person: expected a number from 1"),
        ({"quota": {"per_period": {"limit": 5}}}, "quota.per_period.period: missing"),
        ({"quota": {"per_period": {"period": "day"}}}, "quota.per_period.limit: missing"),
        (
            {"quota": {"per_period": {"limit": 5, "period": "fortnight"}}},
            "quota.per_period.period: 'fortnight' is not one of day, week, month, year",
        ),
        ({"quota": {"per_period": {"limit": 0, "period": "day"}}}, "quota.per_period.limit: "),
        ({"quota": {"per_period": 5}}, "quota.per_period: expected a mapping"),
        ({"quota": {"totals": 5}}, "quota.totals: unknown key"),
        ({"quota": {}}, "quota: name at least one limit"),
        ({"quota": 10}, "quota: expected a mapping"),
        ({"opens_on": "1 September"}, "opens_on: expected a date, YYYY-MM-DD"),
        ({"opens_on": "2025-02-30"}, "opens_on: expected a date, YYYY-MM-DD"),
        ({"closes_on": "2025-W01-1"}, "closes_on: expected a date, YYYY-MM-DD"),
        ({"closes_on": 20250101}, "closes_on: expected a date, YYYY-MM-DD"),
        (
            {"opens_on": "2025-09-01", "closes_on": "2025-08-31"},
            "closes_on: 2025-08-31 is before opens_on (2025-09-01)",
        ),
    ],
)
def test_wrong_quotas_and_days_are_refused(change: dict[str, Any], expected: str) -> None:
    problems = problems_of(raw() | change)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_paper_procedure_has_no_quota_or_days() -> None:
    paper = raw(HEAD) | {"channel": "paper", "paper_form": "ACD-IR-100", "quota": {"total": 5}}
    assert "a paper procedure takes no requests here: no quota or opening dates" in problems_of(
        paper
    )
