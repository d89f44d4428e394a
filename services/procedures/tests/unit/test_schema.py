"""The JSON Schema export: a valid 2020-12 schema, in the asked language, with the conditions."""

from __future__ import annotations

import textwrap
from typing import Any

import jsonschema_rs
import pytest
import yaml

from guichet_kit.i18n import Language
from guichet_procedures.definitions.model import parse_definition
from guichet_procedures.definitions.schema import json_schema

L = "{fr: Fr, de: De, en: En}"
DEFINITION = f"""
code: sample-procedure
version: 3
administration: commune
theme: housing
audience: [citizen]
access: {{login: required, level: low}}
channel: online
title: {{fr: Titre, de: Titel, en: Title}}
summary: {L}
keywords: {{}}
statuses:
  - {{code: received, text: {L}, next: [closed]}}
  - {{code: closed, text: {L}, end: true}}
steps:
  - id: everything
    title: {{fr: Tout, de: Alles, en: Everything}}
    fields:
      - {{id: name, type: text, label: {{fr: Nom, de: Name, en: Name}}, hint: {L}, max_length: 20,
          required: true}}
      - {{id: story, type: long_text, label: {L}}}
      - {{id: children, type: number, label: {L}, min: 0, max: 12, integer: true}}
      - {{id: rent, type: amount, label: {L}, max: 9999.99}}
      - {{id: born, type: date, label: {L}, min: "today-120y", max: today}}
      - {{id: kind, type: choice, label: {L},
          options: [{{value: a, label: {{fr: Un, de: Eins, en: One}}}}]}}
      - {{id: langs, type: multi_choice, label: {L}, min_items: 1,
          options: [{{value: fr, label: {L}}}]}}
      - {{id: alone, type: yes_no, label: {L}}}
      - {{id: home, type: address, label: {L}}}
      - {{id: iban, type: iban, label: {L}}}
      - {{id: nid, type: national_id, label: {L}}}
      - {{id: company, type: company_number, label: {L}}}
      - {{id: email, type: email, label: {L}, required: {{field: alone}}}}
      - {{id: phone, type: phone, label: {L}, visible: {{not: {{field: alone}}}}}}
      - {{id: lease, type: attachment, label: {L}, piece_types: [lease], max_files: 2,
          required: true}}
      - id: members
        type: group
        label: {L}
        max_items: 5
        fields:
          - {{id: member, type: text, label: {L}, required: true}}
  - id: later
    title: {L}
    when: {{filled: {{field: name}}}}
    fields:
      - {{id: note, type: text, label: {L}}}
    exits:
      - {{when: {{filled: {{field: note}}}}, message: {{fr: Fin, de: Ende, en: End}}}}
"""
DEF = parse_definition(yaml.safe_load(textwrap.dedent(DEFINITION)))


def test_the_export_is_a_valid_draft_2020_12_schema_in_each_language() -> None:
    for language in Language:
        schema = json_schema(DEF, language)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema_rs.meta.validate(schema)
    german = json_schema(DEF, Language.DE)
    assert german["title"] == "Titel"
    assert german["properties"]["name"]["title"] == "Name"
    assert german["properties"]["kind"]["oneOf"] == [{"const": "a", "title": "Eins"}]
    assert german["x-guichet-steps"][0]["title"] == "Alles"
    assert german["x-guichet-steps"][1]["x-guichet-exits"][0]["message"] == "Ende"


def test_conditions_are_exposed_as_extension_keywords() -> None:
    properties = json_schema(DEF, Language.EN)["properties"]
    assert properties["name"]["x-guichet-required"] is True
    assert properties["email"]["x-guichet-required"] == {"field": "alone"}
    assert properties["phone"]["x-guichet-visible"] == {"not": {"field": "alone"}}
    assert properties["lease"]["type"] == "array"  # the ids of its files (F25)
    assert properties["lease"]["maxItems"] == 2
    steps = json_schema(DEF, Language.EN)["x-guichet-steps"]
    assert steps[1]["x-guichet-when"] == {"filled": {"field": "name"}}
    assert steps[0]["fields"][0] == "name"


GOOD: dict[str, Any] = {
    "name": "Anne",
    "children": 2,
    "rent": "850.00",
    "born": "1990-05-01",
    "kind": "a",
    "langs": ["fr"],
    "alone": False,
    "home": {"street": "Rue", "postcode": "1234", "locality": "Lux", "country": "LU"},
    "members": [{"member": "Bob"}],
}


@pytest.mark.parametrize(
    "wrong",
    [
        {"name": "x" * 21},
        {"children": 2.5},
        {"children": 13},
        {"rent": "12.345"},
        {"born": "01/05/1990"},
        {"kind": "b"},
        {"langs": ["fr", "fr"]},
        {"alone": "no"},
        {"home": {"street": "Rue"}},
        {"members": [{"member": "A", "age": 3}]},
        {"unknown": 1},
    ],
)
def test_the_schema_accepts_good_answers_and_refuses_malformed_ones(wrong: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(json_schema(DEF, Language.EN))
    assert validator.is_valid(GOOD)
    assert not validator.is_valid(GOOD | wrong)
