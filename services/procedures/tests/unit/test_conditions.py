"""The condition language: syntax, types in a scope, evaluation, dependencies."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from guichet_procedures.definitions.conditions import (
    Condition,
    FieldInfo,
    Scope,
    ValueKind,
    bind,
    parse,
)

TODAY = date(2025, 6, 15)
SCOPE = Scope(
    {
        "kind": FieldInfo(ValueKind.STRING, frozenset({"a", "b"})),
        "name": FieldInfo(ValueKind.STRING),
        "income": FieldInfo(ValueKind.NUMBER),
        "born": FieldInfo(ValueKind.DATE),
        "alone": FieldInfo(ValueKind.BOOL),
        "langs": FieldInfo(ValueKind.SET, frozenset({"fr", "de"}), countable=True),
        "children": FieldInfo(ValueKind.OTHER, None, countable=True),
        "home": FieldInfo(ValueKind.OTHER),
    },
    {"later": "is in a later step ('next')"},
)


def condition(raw: Any) -> Condition:
    problems: list[str] = []
    root = parse(raw, lambda path, text: problems.append(f"{path}: {text}"))
    assert root is not None, problems
    bound = bind(root, SCOPE, lambda path, text: problems.append(f"{path}: {text}"))
    assert not problems
    return Condition(bound, raw)


def problems_of(raw: Any) -> list[str]:
    problems: list[str] = []
    root = parse(raw, lambda path, text: problems.append(f"{path}: {text}"))
    if root is not None:
        bind(root, SCOPE, lambda path, text: problems.append(f"{path}: {text}"))
    return problems


ANSWERS = {
    "kind": "a",
    "name": "Anne",
    "income": 1200,
    "born": "2007-06-16",
    "alone": True,
    "langs": ["fr"],
    "children": [{"child": 1}, {"child": 2}],
    "home": {"street": "x"},
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        ({"field": "alone"}, True),
        ({"not": {"field": "alone"}}, False),
        ({"eq": [{"field": "kind"}, "a"]}, True),
        ({"ne": [{"field": "kind"}, "a"]}, False),
        ({"eq": ["x", "x"]}, True),
        ({"gt": [{"field": "income"}, 1000]}, True),
        ({"ge": [{"field": "income"}, 1200.0]}, True),
        ({"lt": [{"field": "income"}, 1200]}, False),
        ({"le": [{"field": "born"}, "2007-06-16"]}, True),
        ({"lt": [{"field": "born"}, {"today": {}}]}, True),
        ({"ge": [{"age": {"field": "born"}}, 18]}, False),  # 18 tomorrow
        ({"eq": [{"age": {"field": "born"}}, 17]}, True),
        ({"eq": [{"count": {"field": "children"}}, 2]}, True),
        ({"eq": [{"count": {"field": "langs"}}, 1]}, True),
        ({"in": [{"field": "kind"}, ["b", "a"]]}, True),
        ({"in": [{"field": "income"}, [1, 2]]}, False),
        ({"has": [{"field": "langs"}, "fr"]}, True),
        ({"has": [{"field": "langs"}, "de"]}, False),
        ({"filled": {"field": "home"}}, True),
        ({"and": [{"field": "alone"}, {"eq": [{"field": "name"}, "Anne"]}]}, True),
        ({"and": [{"field": "alone"}, False]}, False),
        ({"or": [False, {"filled": {"field": "name"}}]}, True),
    ],
)
def test_each_kind_of_condition_evaluates_on_answers(raw: Any, expected: bool) -> None:
    assert condition(raw).evaluate(ANSWERS, TODAY) is expected


@pytest.mark.parametrize(
    "raw",
    [
        {"eq": [{"field": "kind"}, "a"]},
        {"ne": [{"field": "kind"}, "a"]},
        {"gt": [{"field": "income"}, 0]},
        {"le": [{"field": "born"}, {"today": {}}]},
        {"ge": [{"age": {"field": "born"}}, 0]},
        {"in": [{"field": "kind"}, ["a", "b"]]},
        {"has": [{"field": "langs"}, "fr"]},
        {"filled": {"field": "name"}},
        {"field": "alone"},
    ],
)
def test_a_missing_answer_makes_comparisons_and_filled_false(raw: Any) -> None:
    assert condition(raw).evaluate({}, TODAY) is False


def test_not_of_a_missing_yes_no_holds_and_count_of_nothing_is_zero() -> None:
    assert condition({"not": {"field": "alone"}}).evaluate({}, TODAY) is True
    assert condition({"eq": [{"count": {"field": "children"}}, 0]}).evaluate({}, TODAY) is True


@pytest.mark.parametrize(
    "answers",
    [{"income": "lots"}, {"income": True}, {"born": "15/06/2000"}, {"kind": 3}, {"langs": "fr"}],
)
def test_unreadable_stored_values_read_as_missing(answers: dict[str, Any]) -> None:
    for raw in (
        {"gt": [{"field": "income"}, 0]},
        {"lt": [{"field": "born"}, {"today": {}}]},
        {"eq": [{"field": "kind"}, "a"]},
        {"has": [{"field": "langs"}, "fr"]},
    ):
        assert condition(raw).evaluate(answers, TODAY) is False


def test_an_empty_answer_is_not_filled() -> None:
    filled = condition({"filled": {"field": "name"}})
    for empty in ("", [], {}, None):
        assert filled.evaluate({"name": empty}, TODAY) is False


def test_dependencies_are_every_field_read() -> None:
    found = condition(
        {
            "and": [
                {"not": {"filled": {"field": "home"}}},
                {
                    "or": [
                        {"has": [{"field": "langs"}, "fr"]},
                        {"gt": [{"age": {"field": "born"}}, 3]},
                    ]
                },
                {"in": [{"field": "kind"}, ["a"]]},
                {"eq": [{"count": {"field": "children"}}, {"field": "income"}]},
            ]
        }
    )
    assert found.dependencies() == {"home", "langs", "born", "kind", "children", "income"}
    assert condition(True).dependencies() == frozenset()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"filled": {"field": "later"}}, ".filled: field 'later' is in a later step ('next')"),
        ({"filled": {"field": "ghost"}}, ".filled: unknown field 'ghost'"),
        ({"eq": [{"field": "income"}, "1200"]}, ".eq: eq compares a number with a string"),
        ({"eq": [{"field": "kind"}, "c"]}, ".eq: 'c' is not an option of 'kind' (a, b)"),
        ({"eq": [{"field": "langs"}, "fr"]}, ".eq: eq compares a set-of-strings with a string"),
        ({"eq": [{"field": "home"}, {"field": "home"}]}, ".eq: eq cannot compare other values"),
        ({"gt": [{"field": "alone"}, True]}, ".gt: gt cannot compare bool values"),
        ({"in": [{"field": "alone"}, [True]]}, ".in: in cannot look for a bool value"),
        ({"in": [{"field": "income"}, [1, "2"]]}, ".in[1][1]: in compares a number with a string"),
        (
            {"in": [{"field": "kind"}, [{"field": "name"}]]},
            ".in[1]: in compares with a list of literals",
        ),
        ({"has": [{"field": "langs"}, "lb"]}, ".has[1]: 'lb' is not an option of 'langs' (de, fr)"),
        (
            {"has": [{"field": "langs"}, 3]},
            ".has[1]: has looks for one of the field's option values",
        ),
        ({"not": {"field": "income"}}, ".not: expected a condition (true or false), not a number"),
        ({"and": []}, ".and: and needs at least one condition"),
        ({"or": {"field": "alone"}}, ".or: expected a list"),
        ({"eq": [1, 2], "ne": [1, 2]}, ": a condition is a literal or an object with one key"),
        (None, ": a condition is a literal or an object with one key"),
        ({"field": "income"}, ": a condition must be true or false, not a number"),
    ],
)
def test_wrong_conditions_are_reported_with_their_path(raw: Any, expected: str) -> None:
    problems = problems_of(raw)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_deeply_nested_condition_is_refused() -> None:
    raw: Any = True
    for _ in range(40):
        raw = {"not": raw}
    assert any("nests at most" in problem for problem in problems_of(raw))
