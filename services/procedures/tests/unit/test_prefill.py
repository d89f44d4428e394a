"""Prefill sources in definitions (F24): what a definition may name as a field's source, checked
when it is loaded, and the shipped catalogue's prefilled fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from guichet_procedures.definitions.loader import load_catalogue
from guichet_procedures.definitions.model import DefinitionError, parse_definition
from guichet_procedures.definitions.sources import FieldSource
from guichet_procedures.requests.prefill import has_locked, purpose_of, sourced_fields

CATALOGUE = Path(__file__).resolve().parents[2] / "catalogue"


def _text(en: str) -> dict[str, str]:
    return {"fr": f"{en} (fr)", "de": f"{en} (de)", "en": en}


def _definition(*fields: dict[str, Any], audience: list[str] | None = None) -> dict[str, Any]:
    return {
        "code": "prefilled",
        "version": 1,
        "administration": "commune",
        "theme": "housing",
        "audience": audience or ["citizen"],
        "access": {"login": "required", "level": "low"},
        "channel": "online",
        "title": _text("Prefilled"),
        "summary": _text("Prefilled form"),
        "statuses": [
            {"code": "received", "text": _text("Received"), "next": ["done"]},
            {"code": "done", "text": _text("Done"), "end": True},
        ],
        "steps": [{"id": "about", "title": _text("About"), "fields": list(fields)}],
    }


def _field(kind: str = "text", **more: Any) -> dict[str, Any]:
    return {"id": "value", "type": kind, "label": _text("Value"), **more}


def test_a_field_names_its_source_and_whether_it_is_locked() -> None:
    definition = parse_definition(
        _definition(
            _field("date", source={"register": "person.birth_date"}, locked=True),
            {**_field("email", source={"profile": "email"}), "id": "email"},
            {**_field("text"), "id": "remarks"},
        )
    )

    fields = definition.fields
    assert (fields["value"].source, fields["value"].locked) == (
        FieldSource("register", "person.birth_date"),
        True,
    )
    assert (fields["email"].source, fields["email"].locked) == (
        FieldSource("profile", "email"),
        False,
    )
    assert (fields["remarks"].source, fields["remarks"].locked) == (None, False)
    assert [each.id for _step, each in sourced_fields(definition)] == ["value", "email"]
    assert has_locked(definition)
    assert purpose_of(definition.code) == "procedures:prefill:prefilled"


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        pytest.param(_field(locked=True), "a locked field needs a source", id="locked-no-source"),
        pytest.param(
            _field(source={"register": "person.salary"}),
            "'person.salary' is not one of",
            id="unknown-register-field",
        ),
        pytest.param(
            _field(source={"profile": "password"}),
            "'password' is not one of",
            id="unknown-profile-field",
        ),
        pytest.param(
            _field(source={"wallet": "x"}), "'wallet' is not a source", id="unknown-source"
        ),
        pytest.param(
            _field(source={"profile": "email", "register": "person.surname"}),
            "expected one source",
            id="two-sources",
        ),
        pytest.param(_field(source="person.surname"), "expected one source", id="not-a-mapping"),
        pytest.param(
            _field("number", source={"register": "person.address"}),
            "a number field cannot hold register person.address",
            id="type-cannot-hold-it",
        ),
        pytest.param(
            _field("text", source={"register": "person.birth_date"}),
            "a text field cannot hold register person.birth_date",
            id="date-into-text",
        ),
        pytest.param(
            _field("yes_no", locked="yes"), "expected true or false", id="locked-not-a-bool"
        ),
        pytest.param(
            _field(
                "group",
                fields=[
                    {"id": "inner", "type": "text", "label": _text("Inner"),
                     "source": {"profile": "last_name"}},
                ],
            ),
            "a field inside a group takes no source",
            id="inside-a-group",
        ),
    ],
)  # fmt: skip
def test_a_bad_source_is_refused_when_the_definition_is_loaded(
    field: dict[str, Any], problem: str
) -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_definition(_definition(field))
    assert any(problem in each for each in refused.value.problems), refused.value.problems


def test_a_register_source_is_for_a_procedure_of_citizens_only() -> None:
    raw = _definition(_field(source={"register": "person.surname"}), audience=["company"])
    with pytest.raises(DefinitionError) as refused:
        parse_definition(raw)
    assert any("register sources only for citizens" in p for p in refused.value.problems)
    # The profile is the signed-in person's, whatever the audience.
    parse_definition(_definition(_field(source={"profile": "last_name"}), audience=["company"]))


def test_the_catalogue_prefills_the_change_of_address_and_locks_the_students_birth_date() -> None:
    catalogue = load_catalogue(CATALOGUE)
    found = {
        entry.definition.code: {
            each.id: (each.source, each.locked) for _step, each in sourced_fields(entry.definition)
        }
        for entry in catalogue.definitions
        if sourced_fields(entry.definition)
    }

    assert found == {
        "change-of-address": {
            "previous_address": (FieldSource("register", "person.address"), False),
            "email": (FieldSource("profile", "email"), False),
        },
        "student-financial-aid": {
            "birth_date": (FieldSource("register", "person.birth_date"), True),
            "email": (FieldSource("profile", "email"), False),
        },
    }
