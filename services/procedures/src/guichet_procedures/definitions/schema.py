"""A version's form as JSON Schema (draft 2020-12) in one language, for clients.

The schema describes the answers object (field id → value) and each value's shape. What depends
on other answers is given as extension keywords holding the conditions' JSON trees:
`x-guichet-visible`, `x-guichet-required` (true or a condition), a step's `x-guichet-when` and
`x-guichet-exits`. Clients may use them to display the form; the server alone decides (it
re-checks every answer). No field is in the top-level `required`: a draft is partial and a
required field may be hidden or in a step that does not apply.
"""

from __future__ import annotations

from typing import Any

from guichet_kit.i18n import Language
from guichet_procedures.definitions.conditions import Condition
from guichet_procedures.definitions.fields import ADDRESS_PARTS, COUNTRIES, IBAN_LENGTHS
from guichet_procedures.definitions.model import (
    AddressField,
    AmountField,
    AttachmentField,
    ChoiceField,
    CompanyNumberField,
    DateField,
    Definition,
    EmailField,
    Field,
    GroupField,
    IbanField,
    LongTextField,
    MultiChoiceField,
    NationalIdField,
    NumberField,
    PhoneField,
    TextField,
    YesNoField,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_AMOUNT_PATTERN = r"^-?[0-9]{1,13}([.,][0-9]{1,2})?$"
_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def json_schema(definition: Definition, language: Language) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    steps = []
    for step in definition.steps:
        described: dict[str, Any] = {
            "id": step.id,
            "title": step.title.text(language),
            "fields": [each.id for each in step.fields],
        }
        if step.when is not None:
            described["x-guichet-when"] = step.when.source
        if step.exits:
            described["x-guichet-exits"] = [
                {"when": way_out.when.source, "message": way_out.message.text(language)}
                for way_out in step.exits
            ]
        steps.append(described)
        for each in step.fields:
            properties[each.id] = field_schema(each, language)
    return {
        "$schema": DIALECT,
        "$id": f"urn:guichet:procedure:{definition.code}:{definition.version}",
        "title": definition.title.text(language),
        "description": definition.summary.text(language),
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "x-guichet-code": definition.code,
        "x-guichet-version": definition.version,
        "x-guichet-language": language.value,
        "x-guichet-steps": steps,
    }


def field_schema(field: Field, language: Language) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": field.label.text(language)}
    if field.hint is not None:
        schema["description"] = field.hint.text(language)
    schema["x-guichet-type"] = field.type
    schema.update(_shape(field, language))
    required: bool | Any = field.required
    if isinstance(required, Condition):
        required = required.source
    if required is not False:
        schema["x-guichet-required"] = required
    if field.visible is not None:
        schema["x-guichet-visible"] = field.visible.source
    return schema


def _shape(field: Field, language: Language) -> dict[str, Any]:
    match field:
        case TextField() | LongTextField():
            return {"type": "string", "maxLength": field.max_length}
        case NumberField():
            shape: dict[str, Any] = {"type": "integer" if field.integer else "number"}
            if field.minimum is not None:
                shape["minimum"] = _json_number(field.minimum)
            if field.maximum is not None:
                shape["maximum"] = _json_number(field.maximum)
            return shape
        case AmountField():
            shape = {"type": "string", "pattern": _AMOUNT_PATTERN, "x-guichet-currency": "EUR"}
            if field.minimum is not None:
                shape["x-guichet-minimum"] = str(field.minimum)
            if field.maximum is not None:
                shape["x-guichet-maximum"] = str(field.maximum)
            return shape
        case DateField():
            # Relative limits ("today-18y") are given as written: the day decides.
            shape = {"type": "string", "format": "date", "pattern": _DATE_PATTERN}
            if field.minimum is not None:
                shape["x-guichet-minimum"] = field.minimum.text
            if field.maximum is not None:
                shape["x-guichet-maximum"] = field.maximum.text
            return shape
        case ChoiceField():
            return {"type": "string", "oneOf": _options(field.options, language)}
        case MultiChoiceField():
            shape = {
                "type": "array",
                "items": {"type": "string", "oneOf": _options(field.options, language)},
                "uniqueItems": True,
            }
            if field.min_items:
                shape["minItems"] = field.min_items
            if field.max_items is not None:
                shape["maxItems"] = field.max_items
            return shape
        case YesNoField():
            return {"type": "boolean"}
        case AddressField():
            return {
                "type": "object",
                "properties": {
                    "street": {"type": "string", "maxLength": 150},
                    "house_number": {"type": "string", "maxLength": 20},
                    "postcode": {"type": "string", "maxLength": 16},
                    "locality": {"type": "string", "maxLength": 100},
                    "country": {"type": "string", "enum": sorted(COUNTRIES)},
                },
                "required": [part for part in ADDRESS_PARTS if part != "house_number"],
                "additionalProperties": False,
            }
        case IbanField():
            return {"type": "string", "maxLength": max(IBAN_LENGTHS.values()) + 8}
        case NationalIdField():
            return {"type": "string", "maxLength": 20}
        case CompanyNumberField():
            return {"type": "string", "maxLength": 12}
        case EmailField():
            return {"type": "string", "format": "email", "maxLength": 254}
        case PhoneField():
            return {"type": "string", "maxLength": 32}
        case GroupField():
            members = {member.id: field_schema(member, language) for member in field.fields}
            shape = {
                "type": "array",
                "items": {"type": "object", "properties": members, "additionalProperties": False},
                "maxItems": field.max_items,
            }
            if field.min_items:
                shape["minItems"] = field.min_items
            return shape
        case AttachmentField():
            # The ids of the files added by the attachment calls (F25), never typed in.
            return {
                "type": "array",
                "items": {"type": "string", "format": "uuid"},
                "maxItems": field.max_files,
                "uniqueItems": True,
                "x-guichet-piece-types": list(field.piece_types),
                "x-guichet-max-files": field.max_files,
            }
    raise AssertionError(f"no schema for {field.type}")  # pragma: no cover


def _options(options: Any, language: Language) -> list[dict[str, Any]]:
    return [{"const": option.value, "title": option.label.text(language)} for option in options]


def _json_number(number: Any) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)
