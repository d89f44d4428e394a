"""Publishing checks of a definition: every problem found, each with its path."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from guichet_kit.i18n import Language
from guichet_procedures.definitions.loader import (
    content_hash,
    load_catalogue,
    load_definition,
)
from guichet_procedures.definitions.model import (
    DateBound,
    Definition,
    DefinitionError,
    GroupField,
    parse_definition,
)

L = "{fr: Fr, de: De, en: En}"
HEAD = f"""
code: sample-procedure
version: 1
administration: commune
theme: housing
audience: [citizen]
access: {{login: required, level: low}}
channel: online
title: {{fr: Titre, de: Titel, en: Title}}
summary: {L}
keywords: {{fr: [adresse], de: [Adresse], en: [address]}}
"""
STATUSES = f"""
statuses:
  - {{code: received, text: {L}, notify: true, cancellable: true, next: [correction, closed]}}
  - {{code: correction, text: {L}, asks_citizen: true, next: [closed]}}
  - {{code: closed, text: {L}, end: true}}
"""
STEPS = f"""
steps:
  - id: first
    title: {L}
    fields:
      - {{id: kind, type: choice, label: {L}, required: true,
          options: [{{value: a, label: {L}}}, {{value: b, label: {L}}}]}}
      - {{id: born, type: date, label: {L}}}
      - {{id: alone, type: yes_no, label: {L}}}
  - id: second
    title: {L}
    when: {{eq: [{{field: kind}}, a]}}
    fields:
      - {{id: note, type: text, label: {L}, visible: {{filled: {{field: born}}}}}}
      - id: children
        type: group
        label: {L}
        fields:
          - {{id: child_name, type: text, label: {L}}}
          - {{id: child_born, type: date, label: {L}, visible: {{filled: {{field: child_name}}}}}}
"""


def raw(text: str = HEAD + STATUSES + STEPS) -> dict[str, Any]:
    loaded = yaml.safe_load(textwrap.dedent(text))
    assert isinstance(loaded, dict)
    return loaded


def problems_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(DefinitionError) as refused:
        parse_definition(document)
    return refused.value.problems


def with_field(extra: str, step: int = 1) -> dict[str, Any]:
    document = raw()
    document["steps"][step]["fields"].append(yaml.safe_load(extra))
    return document


def test_a_sound_definition_reads_into_typed_objects() -> None:
    definition = parse_definition(raw())
    assert isinstance(definition, Definition)
    assert [step.id for step in definition.steps] == ["first", "second"]
    assert definition.title.text(Language.DE) == "Titel"
    assert definition.keywords.words(Language.EN) == ("address",)
    children = definition.fields["children"]
    assert isinstance(children, GroupField) and children.max_items == 20
    assert set(definition.fields) >= {"kind", "child_name", "child_born"}
    assert definition.status_graph.initial == "received"


def test_every_problem_is_listed_with_its_path_not_only_the_first() -> None:
    document = raw()
    del document["title"]["de"]
    document["version"] = "one"
    document["steps"][0]["fields"][1]["type"] = "datum"
    document["steps"][1]["fields"][0]["visible"] = {"filled": {"field": "nowhere"}}
    problems = problems_of(document)
    assert "title: missing the de text" in problems
    assert "version: expected a whole number" in problems
    assert any(
        p.startswith("steps[0].fields[1].type: 'datum' is not a field type") for p in problems
    )
    assert "steps[1].fields[0].visible.filled: unknown field 'nowhere'" in problems


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code": "Bad Code"}, "code: 'Bad Code' does not match"),
        ({"administration": "nasa"}, "administration: 'nasa' is not one of"),
        ({"audience": ["citizen", "citizen"]}, "audience[1]: expected each of"),
        ({"channel": "fax"}, "channel: 'fax' is not one of"),
        ({"access": {"login": "optional", "level": "high"}}, "access.level: a procedure open"),
        ({"summary": {"fr": "x", "de": "y", "en": "z", "lb": "w"}}, "summary.lb: unknown language"),
        ({"colour": "blue"}, "colour: unknown key"),
    ],
)
def test_wrong_top_level_values_are_refused(change: dict[str, Any], expected: str) -> None:
    document = raw() | change
    assert any(problem.startswith(expected) for problem in problems_of(document))


def test_a_text_missing_a_language_is_refused_wherever_it_is() -> None:
    document = raw()
    document["steps"][0]["fields"][0]["options"][1]["label"] = {"fr": "B", "en": "B"}
    document["statuses"][2]["text"] = {"fr": "F", "de": "", "en": "E"}
    problems = problems_of(document)
    assert "steps[0].fields[0].options[1].label: missing the de text" in problems
    assert "statuses[2].text: missing the de text" in problems


def test_duplicate_ids_are_refused_even_inside_groups() -> None:
    document = with_field(f"{{id: born, type: date, label: {L}}}")
    document["steps"][1]["fields"][1]["fields"].append(
        {"id": "kind", "type": "text", "label": yaml.safe_load(L)}
    )
    document["steps"][1]["id"] = "first"
    problems = problems_of(document)
    assert "steps[1].fields[2].id: duplicate field id 'born'" in problems
    assert "steps[1].fields[1].fields[2].id: duplicate field id 'kind'" in problems
    assert "steps[1].id: duplicate step id 'first'" in problems


def test_a_condition_on_a_later_step_is_refused() -> None:
    document = raw()
    document["steps"][0]["fields"][2]["visible"] = {"filled": {"field": "note"}}
    assert problems_of(document) == [
        "steps[0].fields[2].visible.filled: field 'note' is in a later step ('second')"
    ]


def test_a_step_condition_may_not_read_its_own_step() -> None:
    document = raw()
    document["steps"][1]["when"] = {"filled": {"field": "note"}}
    (problem,) = problems_of(document)
    assert problem.startswith("steps[1].when.filled: field 'note' is in this same step")


def test_a_group_field_is_out_of_reach_from_outside_the_group() -> None:
    document = with_field(
        f"{{id: late, type: text, label: {L}, visible: {{filled: {{field: child_name}}}}}}"
    )
    (problem,) = problems_of(document)
    assert problem.startswith(
        "steps[1].fields[2].visible.filled: field 'child_name' is inside the group"
    )


def test_a_group_is_counted_from_outside_and_its_fields_see_outer_fields() -> None:
    document = with_field(
        f"{{id: many, type: yes_no, label: {L}, "
        "visible: {gt: [{count: {field: children}}, 2]}}"
    )
    document["steps"][1]["fields"][1]["fields"][0]["visible"] = {"not": {"field": "alone"}}
    parse_definition(document)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"gt": [{"field": "born"}, 3]}, "gt compares a date with a number"),
        ({"eq": [{"field": "kind"}, "c"]}, "'c' is not an option of 'kind' (a, b)"),
        ({"in": [{"field": "kind"}, ["a", "z"]]}, "'z' is not an option of 'kind'"),
        ({"has": [{"field": "kind"}, "a"]}, "has needs a multiple choice"),
        ({"gt": [{"age": {"field": "alone"}}, 18]}, "age needs a date field"),
        ({"eq": [{"count": {"field": "born"}}, 1]}, "count needs a group or multiple choice"),
        ({"lt": [{"field": "kind"}, "b"]}, "lt cannot compare string values"),
        ({"field": "born"}, "a condition must be true or false, not a date"),
        ({"and": [{"field": "alone"}, 3]}, "expected a condition (true or false), not a number"),
        ({"eq": [{"field": "born"}, "31/12/2000"]}, "'31/12/2000' is not a date (YYYY-MM-DD)"),
        ({"between": [1, 2]}, "unknown condition 'between'"),
        ({"eq": [1]}, "expected a list of 2 items"),
        ({"filled": "born"}, 'a field is named as {"field": "<field id>"}'),
        ({"today": 3}, "today takes no argument"),
    ],
)
def test_conditions_are_type_checked_at_publish(condition: Any, expected: str) -> None:
    document = with_field(f"{{id: late, type: text, label: {L}}}")
    document["steps"][1]["fields"][2]["visible"] = condition
    problems = problems_of(document)
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith("steps[1].fields[2].visible") for problem in problems)


def test_a_date_compared_with_a_written_date_is_accepted() -> None:
    document = with_field(
        f"{{id: late, type: text, label: {L}, required: {{lt: [{{field: born}}, '2000-01-01']}}}}"
    )
    parse_definition(document)


def test_fields_of_a_step_reading_each_other_in_a_loop_are_refused() -> None:
    document = raw()
    fields = document["steps"][0]["fields"]
    fields[1]["visible"] = {"field": "alone"}
    fields[2]["required"] = {"filled": {"field": "born"}}
    (problem,) = problems_of(document)
    assert problem.startswith("steps[0].fields: the conditions of these fields read each other")
    assert "born" in problem and "alone" in problem


def test_a_field_reading_itself_is_a_loop() -> None:
    document = raw()
    document["steps"][0]["fields"][2]["visible"] = {"not": {"field": "alone"}}
    assert any("in a loop" in problem for problem in problems_of(document))


def test_a_loop_inside_a_group_is_refused() -> None:
    document = raw()
    group = document["steps"][1]["fields"][1]
    group["fields"][0]["visible"] = {"filled": {"field": "child_born"}}
    (problem,) = problems_of(document)
    assert problem.startswith("steps[1].fields[1].fields: the conditions of these fields")


def test_fields_are_evaluated_after_the_fields_they_read() -> None:
    document = raw()
    fields = document["steps"][0]["fields"]
    fields[0]["visible"] = {"field": "alone"}
    definition = parse_definition(document)
    order = [field.id for field in definition.steps[0].evaluation_order]
    assert order.index("alone") < order.index("kind")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            f"{{id: t, type: text, label: {L}, max_length: 0}}",
            "max_length: expected a number from 1",
        ),
        (
            f"{{id: n, type: number, label: {L}, min: 5, max: 1}}",
            "its minimum is above its maximum",
        ),
        (f"{{id: m, type: amount, label: {L}, max: 10.005}}", "at most 2 decimals"),
        (f"{{id: d, type: date, label: {L}, min: yesterday}}", 'expected "today"'),
        (f"{{id: c, type: choice, label: {L}, options: []}}", "a choice needs at least one option"),
        (
            f"{{id: c, type: choice, label: {L}, "
            f"options: [{{value: a, label: {L}}}, {{value: a, label: {L}}}]}}",
            "duplicate option 'a'",
        ),
        (
            f"{{id: g, type: group, label: {L}, max_items: 50, "
            f"fields: [{{id: x, type: text, label: {L}}}]}}",
            "max_items: expected a number from 1 to 20",
        ),
        (
            f"{{id: g, type: group, label: {L}, "
            f"fields: [{{id: h, type: group, label: {L}, fields: []}}]}}",
            "a group cannot hold another group",
        ),
        (
            f"{{id: a, type: attachment, label: {L}, piece_types: [lease], max_files: 9}}",
            "max_files: expected a number from 1 to 4",
        ),
        (f"{{id: t, type: text, label: {L}, requierd: true}}", "requierd: unknown key"),
        (f"{{id: Bad-Id, type: text, label: {L}}}", "does not match"),
        ("{id: t, type: text}", "label: missing"),
    ],
)
def test_wrong_field_definitions_are_refused(field: str, expected: str) -> None:
    problems = problems_of(with_field(field))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (
            [("new", False, False, ["open", "ghost"]), ("open", True, False, [])],
            "statuses[0].next: no status 'ghost'",
        ),
        (
            [("new", False, False, ["open"]), ("open", True, False, ["new"])],
            "statuses[1].next: 'open' is an end status",
        ),
        (
            [
                ("new", False, False, ["done"]),
                ("open", False, False, ["done"]),
                ("done", True, False, []),
            ],
            "statuses[1]: 'open' cannot be reached from 'new'",
        ),
        (
            [
                ("new", False, True, ["open"]),
                ("open", False, True, ["done"]),
                ("done", True, False, []),
            ],
            "statuses: at most one status asks the citizen",
        ),
        (
            [("new", False, False, ["open"]), ("open", False, False, ["new"])],
            "statuses: no end status",
        ),
        (
            [("new", False, False, []), ("open", True, False, [])],
            "statuses[0].next: 'new' is not an end status",
        ),
        ([("new", True, False, [])], "statuses[0].end: the first status"),
        (
            [("new", False, False, ["open"]), ("new", True, False, []), ("open", True, False, [])],
            "statuses[1].code: duplicate status 'new'",
        ),
    ],
)
def test_a_bad_status_graph_is_refused(
    statuses: list[tuple[str, bool, bool, list[str]]], expected: str
) -> None:
    document = raw()
    document["statuses"] = [
        {"code": code, "text": yaml.safe_load(L), "end": end, "asks_citizen": asks, "next": moves}
        for code, end, asks, moves in statuses
    ]
    assert any(problem.startswith(expected) for problem in problems_of(document))


def test_the_status_graph_answers_the_requests_rules() -> None:
    graph = parse_definition(raw()).status_graph
    assert graph.initial == "received" and graph.correction == "correction"
    assert graph.can_move("received", "closed") and not graph.can_move("closed", "received")
    assert not graph.can_move("nowhere", "closed")
    assert (
        graph.is_end("closed") and graph.cancellable("received") and not graph.cancellable("closed")
    )
    assert graph.asks_citizen("correction") and "received" in graph and "nowhere" not in graph


def test_a_paper_procedure_names_its_form_and_has_no_steps() -> None:
    paper = raw(HEAD) | {"channel": "paper", "paper_form": "ACD-IR-100"}
    assert parse_definition(paper).paper_form == "ACD-IR-100"
    assert "paper_form: missing" in problems_of(raw(HEAD) | {"channel": "paper"})
    with_steps = raw(HEAD + STEPS) | {"channel": "paper", "paper_form": "X1"}
    assert "a paper procedure has no steps or statuses: its form is on paper" in problems_of(
        with_steps
    )
    assert "steps: missing" in problems_of(raw(HEAD + STATUSES))


@pytest.mark.parametrize(
    ("bound", "resolved"),
    [
        ("today", "2024-02-29"),
        ("today-18y", "2006-02-28"),
        ("today+1y", "2025-02-28"),
        ("today+1m", "2024-03-29"),
        ("today-30d", "2024-01-30"),
        ("2020-05-01", "2020-05-01"),
    ],
)
def test_date_limits_resolve_against_the_day(bound: str, resolved: str) -> None:
    from datetime import date

    parsed = DateBound.parse(bound)
    assert parsed is not None
    assert parsed.resolve(date(2024, 2, 29)).isoformat() == resolved


# --- the loader -----------------------------------------------------------------------------

THEMES = "housing: {fr: Logement, de: Wohnen, en: Housing}\n"


def test_the_catalogue_directory_loads_with_hashes(tmp_path: Path) -> None:
    (tmp_path / "themes.yaml").write_text(THEMES)
    (tmp_path / "sample-procedure.yaml").write_text(textwrap.dedent(HEAD + STATUSES + STEPS))
    catalogue = load_catalogue(tmp_path)
    assert catalogue.themes["housing"].text(Language.FR) == "Logement"
    (loaded,) = catalogue.definitions
    assert loaded.definition.code == "sample-procedure" and loaded.source == "sample-procedure.yaml"
    assert len(loaded.content_hash) == 64
    assert parse_definition(loaded.document) == loaded.definition
    assert catalogue.get("sample-procedure") is loaded


def test_the_content_hash_ignores_layout_but_not_content() -> None:
    text = textwrap.dedent(HEAD + STATUSES + STEPS)
    reordered = yaml.safe_dump(dict(reversed(list(raw().items()))), allow_unicode=True)
    first, second = load_definition(text), load_definition(reordered)
    assert first.content_hash == second.content_hash == content_hash(raw())
    changed = load_definition(text.replace("Titel", "Titel!"))
    assert changed.content_hash != first.content_hash


def test_every_file_problem_is_reported_together(tmp_path: Path) -> None:
    (tmp_path / "themes.yaml").write_text(THEMES + "bad key: {fr: x, de: y}\n")
    (tmp_path / "sample-procedure.yaml").write_text(
        textwrap.dedent(HEAD + STATUSES + STEPS).replace("housing", "sports")
    )
    (tmp_path / "other-name.yaml").write_text(textwrap.dedent(HEAD + STATUSES + STEPS))
    (tmp_path / "broken.yaml").write_text("code: [unclosed\n")
    with pytest.raises(DefinitionError) as refused:
        load_catalogue(tmp_path)
    problems = refused.value.problems
    assert "themes.yaml: bad key: a theme key matches [a-z][a-z0-9-]{1,39}" in problems
    assert "themes.yaml: bad key: missing the en text" in problems
    assert "sample-procedure.yaml: theme: 'sports' is not a theme of themes.yaml" in problems
    assert "other-name.yaml: code: must be the file's name, 'other-name'" in problems
    assert any(problem.startswith("broken.yaml: line 2: not valid YAML") for problem in problems)


def test_yaml_dates_and_odd_keys_are_made_json_or_refused() -> None:
    text = textwrap.dedent(HEAD + STATUSES + STEPS).replace(
        f"{{id: born, type: date, label: {L}}}",
        f"{{id: born, type: date, label: {L}, min: 1960-01-01}}",
    )
    loaded = load_definition(text)
    assert loaded.document["steps"][0]["fields"][1]["min"] == "1960-01-01"
    with pytest.raises(DefinitionError) as refused:
        load_definition(text + "\n1: one\n")
    assert "1: a key must be a text (quote 1)" in refused.value.problems
