"""The form at work on answers: steps that apply, a step's checks, exits, submission, pruning."""

from __future__ import annotations

import textwrap
import uuid
from datetime import date
from typing import Any

import pytest
import yaml

from guichet_kit.i18n import Language
from guichet_procedures.definitions.form import (
    Form,
    InvalidAnswers,
    StepNotApplicable,
    UnknownStep,
)
from guichet_procedures.definitions.model import parse_definition

L = "{fr: Fr, de: De, en: En}"
DEFINITION = f"""
code: sample-procedure
version: 1
administration: commune
theme: housing
audience: [citizen]
access: {{login: required, level: low}}
channel: online
title: {L}
summary: {L}
keywords: {{}}
statuses:
  - {{code: received, text: {L}, next: [closed]}}
  - {{code: closed, text: {L}, end: true}}
steps:
  - id: situation
    title: {L}
    fields:
      - {{id: born, type: date, label: {L}, required: true, max: today}}
      - {{id: status, type: choice, label: {L}, required: true,
          options: [{{value: student, label: {L}}}, {{value: worker, label: {L}}}]}}
      - {{id: employer, type: text, label: {L}, max_length: 20, required: true,
          visible: {{eq: [{{field: status}}, worker]}}}}
      - {{id: phone, type: phone, label: {L}, required: {{not: {{filled: {{field: email}}}}}}}}
      - {{id: email, type: email, label: {L}}}
      - {{id: proof, type: attachment, label: {L}, piece_types: [payslip],
          required: {{filled: {{field: phone}}}}}}
    exits:
      - when: {{lt: [{{age: {{field: born}}}}, 16]}}
        message: {{fr: Trop jeune, de: Zu jung, en: Too young}}
  - id: studies
    title: {L}
    when: {{eq: [{{field: status}}, student]}}
    fields:
      - {{id: school, type: text, label: {L}, required: true}}
      - id: courses
        type: group
        label: {L}
        max_items: 3
        fields:
          - {{id: course, type: text, label: {L}, required: true}}
          - {{id: paid, type: yes_no, label: {L}}}
          - {{id: fee, type: amount, label: {L}, required: true, visible: {{field: paid}}}}
  - id: payment
    title: {L}
    fields:
      - {{id: iban, type: iban, label: {L}, required: true}}
"""
TODAY = date(2025, 6, 15)
FORM = Form(parse_definition(yaml.safe_load(textwrap.dedent(DEFINITION))), today=TODAY)
SITUATION = {"born": "2000-01-31", "status": "student", "email": "anne@example.lu"}


def refused(call: Any, *args: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidAnswers) as error:
        call(*args)
    assert error.value.reason == "INVALID_ANSWERS"
    return [(found.field, found.reason) for found in error.value.fields]


def test_a_step_gives_its_cleaned_values() -> None:
    result = FORM.check_step("situation", SITUATION | {"born": " 2000-01-31 "}, {})
    assert result.values == SITUATION and result.dropped == ()


def test_a_value_for_a_hidden_field_is_dropped_not_stored() -> None:
    result = FORM.check_step("situation", SITUATION | {"employer": "ACME"}, {})
    assert "employer" not in result.values and result.dropped == ("employer",)


def test_a_field_shown_by_another_answer_is_checked_and_required() -> None:
    worker = SITUATION | {"status": "worker"}
    assert refused(FORM.check_step, "situation", worker, {}) == [("employer", "required")]
    too_long = worker | {"employer": "x" * 21}
    assert refused(FORM.check_step, "situation", too_long, {}) == [("employer", "too_long")]


def test_a_required_if_field_left_empty_is_refused() -> None:
    without_email = {"born": "2000-01-31", "status": "student"}
    assert refused(FORM.check_step, "situation", without_email, {}) == [("phone", "required")]


def test_every_wrong_field_is_reported_at_once_with_unknown_ones() -> None:
    errors = refused(
        FORM.check_step,
        "situation",
        {"born": "2030-01-01", "status": "retired", "email": "x", "iban": "LU", "nickname": "A"},
        {},
    )
    assert sorted(errors) == [
        ("born", "too_late"),
        ("email", "invalid"),
        ("iban", "unknown"),
        ("nickname", "unknown"),
        ("phone", "required"),
        ("status", "not_an_option"),
    ]


def test_an_attachment_answer_is_the_list_of_its_file_ids_up_to_max_files() -> None:
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    assert "proof" not in FORM.check_step("situation", SITUATION, {}).values
    assert FORM.check_step("situation", SITUATION | {"proof": [one]}, {}).values["proof"] == [one]
    for wrong, reason in (("x", "invalid"), (["x"], "invalid"), ([one, one], "duplicate")):
        assert refused(FORM.check_step, "situation", SITUATION | {"proof": wrong}, {}) == [
            ("proof", reason)
        ]
    assert refused(FORM.check_step, "situation", SITUATION | {"proof": [one, two]}, {}) == [
        ("proof", "too_many_files")
    ]


def test_an_attachment_field_follows_its_required_condition() -> None:
    with_phone = SITUATION | {"phone": "+352 621 123 456"}
    assert refused(FORM.check_step, "situation", with_phone, {}) == [("proof", "required")]


def test_nul_bytes_and_a_megabyte_of_text_are_refused() -> None:
    assert refused(FORM.check_step, "studies", {"school": "a\x00b"}, SITUATION) == [
        ("school", "control_character")
    ]
    assert refused(FORM.check_step, "studies", {"school": "x" * 1_048_576}, SITUATION) == [
        ("school", "too_long")
    ]


def test_group_entries_are_checked_with_their_paths() -> None:
    courses = [
        {"course": "Law", "paid": True, "fee": "120.5"},
        {"course": "Art", "paid": False, "fee": "9"},
        {"paid": True, "fee": "1.234", "extra": 1},
    ]
    errors = refused(FORM.check_step, "studies", {"school": "Uni", "courses": courses}, SITUATION)
    assert sorted(errors) == [
        ("courses[2].course", "required"),
        ("courses[2].extra", "unknown"),
        ("courses[2].fee", "too_precise"),
    ]
    result = FORM.check_step("studies", {"school": "Uni", "courses": courses[:2]}, SITUATION)
    assert result.values["courses"] == [
        {"course": "Law", "paid": True, "fee": "120.50"},
        {"course": "Art", "paid": False},
    ]
    assert result.dropped == ("courses[1].fee",)


@pytest.mark.parametrize(
    ("courses", "expected"),
    [
        ([{"course": "A"}] * 4, [("courses", "too_many")]),
        ("Law", [("courses", "invalid")]),
        (["Law"], [("courses[0]", "invalid")]),
    ],
)
def test_a_wrong_group_is_refused(courses: Any, expected: list[tuple[str, str]]) -> None:
    submitted = {"school": "Uni", "courses": courses}
    assert refused(FORM.check_step, "studies", submitted, SITUATION) == expected


def test_a_step_that_does_not_apply_or_does_not_exist_is_refused() -> None:
    with pytest.raises(StepNotApplicable):
        FORM.check_step("studies", {"school": "Uni"}, SITUATION | {"status": "worker"})
    with pytest.raises(UnknownStep):
        FORM.check_step("elsewhere", {}, SITUATION)


def test_answers_that_are_not_an_object_are_refused() -> None:
    assert refused(FORM.check_step, "payment", ["LU28"], {}) == [("", "invalid")]


def test_applicable_steps_follow_the_answers() -> None:
    assert [s.id for s in FORM.applicable_steps(SITUATION)] == ["situation", "studies", "payment"]
    worker = SITUATION | {"status": "worker"}
    assert [s.id for s in FORM.applicable_steps(worker)] == ["situation", "payment"]


def test_an_exit_ends_the_procedure_with_its_message() -> None:
    young = SITUATION | {"born": "2015-01-01"}
    message = FORM.exit_message(young)
    assert message is not None and message.render(Language.DE) == "Zu jung"
    assert FORM.exit_message(SITUATION) is None
    assert FORM.exit_message({}) is None  # the age of nobody is no age


def test_check_all_gives_the_cleaned_answers_of_applicable_steps_only() -> None:
    answers = SITUATION | {
        "employer": "ACME",
        "school": "Uni",
        "iban": "lu28 0019 4006 4475 0000",
    }
    assert FORM.check_all(answers) == SITUATION | {"school": "Uni", "iban": "LU280019400644750000"}
    worker = answers | {"status": "worker"}
    assert FORM.check_all(worker) == {
        "born": "2000-01-31",
        "status": "worker",
        "email": "anne@example.lu",
        "employer": "ACME",
        "iban": "LU280019400644750000",
    }


def test_check_all_refuses_an_incomplete_request() -> None:
    assert sorted(refused(FORM.check_all, SITUATION | {"ghost": 1})) == [
        ("ghost", "unknown"),
        ("iban", "required"),
        ("school", "required"),
    ]


def test_prune_drops_hidden_fields_inapplicable_steps_and_unknown_ids() -> None:
    stored = SITUATION | {
        "status": "worker",
        "employer": "ACME",
        "school": "Uni",
        "ghost": 1,
        "iban": "LU280019400644750000",
    }
    assert FORM.prune(stored) == {
        "born": "2000-01-31",
        "status": "worker",
        "email": "anne@example.lu",
        "employer": "ACME",
        "iban": "LU280019400644750000",
    }
    courses = [{"course": "Art", "paid": False, "fee": "9.00"}]
    pruned = FORM.prune(SITUATION | {"courses": courses})
    assert pruned["courses"] == [{"course": "Art", "paid": False}]
