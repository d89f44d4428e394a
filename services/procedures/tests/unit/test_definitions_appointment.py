"""The `appointment` key of a definition (F32): mode, hold minutes and places, checked at load."""

from __future__ import annotations

from typing import Any

import pytest

from guichet_kit.i18n import Language
from guichet_procedures.definitions.model import DefinitionError, parse_definition

from .test_definitions import raw

PLACE = {
    "code": "town-hall",
    "name": {"fr": "Mairie", "de": "Rathaus", "en": "Town hall"},
    "address": "1, place Guillaume II, L-1648 Luxembourg",
}


def with_appointment(appointment: Any) -> dict[str, Any]:
    document = raw()
    document["appointment"] = appointment
    return document


def problems_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(DefinitionError) as refused:
        parse_definition(document)
    return refused.value.problems


def test_an_appointment_reads_with_its_places_and_default_hold() -> None:
    definition = parse_definition(with_appointment({"mode": "required", "places": [PLACE]}))
    offer = definition.appointment
    assert offer is not None and offer.required and offer.hold_minutes == 10
    place = offer.place("town-hall")
    assert place is not None and place.name.text(Language.DE) == "Rathaus"
    assert place.address == PLACE["address"]
    assert offer.place("elsewhere") is None


def test_without_the_key_a_procedure_offers_no_appointment() -> None:
    assert parse_definition(raw()).appointment is None


def test_an_optional_appointment_with_its_own_hold() -> None:
    offer = parse_definition(
        with_appointment({"mode": "optional", "hold_minutes": 25, "places": [PLACE]})
    ).appointment
    assert offer is not None and not offer.required and offer.hold_minutes == 25


@pytest.mark.parametrize(
    ("appointment", "expected"),
    [
        ({"mode": "maybe", "places": [PLACE]}, "appointment.mode: 'maybe' is not one of"),
        ({"places": [PLACE]}, "appointment.mode: missing"),
        (
            {"mode": "optional", "hold_minutes": 0, "places": [PLACE]},
            "appointment.hold_minutes: expected a number from 1 to 60",
        ),
        (
            {"mode": "optional", "hold_minutes": 90, "places": [PLACE]},
            "appointment.hold_minutes: expected a number from 1 to 60",
        ),
        ({"mode": "optional"}, "appointment.places: missing"),
        ({"mode": "optional", "places": []}, "appointment.places: name at least one place"),
        (
            {"mode": "optional", "places": [PLACE, PLACE]},
            "appointment.places[1].code: duplicate place 'town-hall'",
        ),
        (
            {"mode": "optional", "places": [{**PLACE, "code": "Town Hall"}]},
            "appointment.places[0].code: 'Town Hall' does not match",
        ),
        (
            {"mode": "optional", "places": [{**PLACE, "name": {"fr": "Mairie"}}]},
            "appointment.places[0].name: missing the de text",
        ),
        (
            {"mode": "optional", "places": [{**PLACE, "address": "  "}]},
            "appointment.places[0].address: a printable text",
        ),
        (
            {"mode": "optional", "places": [{**PLACE, "floor": 2}]},
            "appointment.places[0].floor: unknown key",
        ),
        ({"mode": "optional", "places": [PLACE], "when": "soon"}, "appointment.when: unknown"),
        ("required", "appointment: expected a mapping"),
    ],
)
def test_a_wrong_appointment_is_refused_with_its_path(appointment: Any, expected: str) -> None:
    assert any(
        problem.startswith(expected) for problem in problems_of(with_appointment(appointment))
    )


def test_a_paper_procedure_takes_no_appointment() -> None:
    document = {key: value for key, value in raw().items() if key not in ("statuses", "steps")}
    document.update(
        channel="paper",
        paper_form="some-form",
        appointment={"mode": "optional", "places": [PLACE]},
    )
    assert "appointment: a paper procedure takes no appointment here" in problems_of(document)
