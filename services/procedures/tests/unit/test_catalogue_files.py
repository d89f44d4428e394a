"""The shipped catalogue (services/procedures/catalogue): it loads and publishes as a whole, it
covers every field type, condition kind and use of conditions, and its forms behave as the
people filling them expect (exits, visibility, required-if)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from guichet_etracking.tracking.catalogue import find_paper_form
from guichet_kit.i18n import Language
from guichet_procedures.definitions import conditions as c
from guichet_procedures.definitions.form import Form, InvalidAnswers
from guichet_procedures.definitions.loader import Catalogue, load_catalogue
from guichet_procedures.definitions.model import (
    FIELD_CLASSES,
    Definition,
    Field,
    GroupField,
)
from guichet_procedures.definitions.schema import json_schema
from guichet_wallet.pieces.catalogue import find_piece_type

CATALOGUE = Path(__file__).resolve().parents[2] / "catalogue"
TODAY = date(2025, 6, 16)
ADMINISTRATIONS = {"acd", "ccss", "snca", "cae", "commune", "aed", "justice", "cedies"}
CONDITION_KINDS = {
    "field", "literal", "today", "age", "count", "eq", "ne", "gt", "ge", "lt", "le",
    "in", "has", "filled", "and", "or", "not",
}  # fmt: skip
ADDRESS = {
    "street": "Rue de la Gare",
    "house_number": "12",
    "postcode": "L-1611",
    "locality": "Luxembourg",
    "country": "LU",
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(CATALOGUE)


def definition(catalogue: Catalogue, code: str) -> Definition:
    loaded = catalogue.get(code)
    assert loaded is not None, code
    return loaded.definition


def all_fields(fields: tuple[Field, ...]) -> Iterator[Field]:
    for each in fields:
        yield each
        if isinstance(each, GroupField):
            yield from all_fields(each.fields)


def kinds_of(expression: Any) -> Iterator[str]:
    match expression:
        case c.FieldRef():
            yield "field"
        case c.Constant():
            yield "literal"
        case c.Today():
            yield "today"
        case c.Age(of=ref):
            yield "age"
            yield from kinds_of(ref)
        case c.Count(of=ref):
            yield "count"
            yield from kinds_of(ref)
        case c.Filled(of=ref):
            yield "filled"
            yield from kinds_of(ref)
        case c.Comparison(operator=operator, left=left, right=right):
            yield operator
            yield from kinds_of(left)
            yield from kinds_of(right)
        case c.Among(operand=operand, values=values):
            yield "in"
            yield from kinds_of(operand)
            for value in values:
                yield from kinds_of(value)
        case c.Has(operand=operand, value=value):
            yield "has"
            yield from kinds_of(operand)
            yield from kinds_of(value)
        case c.AllOf(items=items):
            yield "and"
            for item in items:
                yield from kinds_of(item)
        case c.AnyOf(items=items):
            yield "or"
            for item in items:
                yield from kinds_of(item)
        case c.Not(item=item):
            yield "not"
            yield from kinds_of(item)


def uses_of(definition: Definition) -> Iterator[tuple[str, c.Condition]]:
    for step in definition.steps:
        if step.when is not None:
            yield "when", step.when
        for way_out in step.exits:
            yield "exit", way_out.when
        for each in all_fields(step.fields):
            if each.visible is not None:
                yield "visible", each.visible
            if isinstance(each.required, c.Condition):
                yield "required-if", each.required


# --- the catalogue as a whole -----------------------------------------------------------------


def test_the_catalogue_loads_with_no_problem_and_each_version_exports_its_schema(
    catalogue: Catalogue,
) -> None:
    assert len(catalogue.definitions) >= 8
    for loaded in catalogue.definitions:
        found = loaded.definition
        assert loaded.source == f"{found.code}.yaml"
        assert found.theme in catalogue.themes
        assert found.administration in ADMINISTRATIONS
        assert len(loaded.content_hash) == 64
        for language in Language:
            schema = json_schema(found, language)
            assert set(schema["properties"]) == {
                each.id for step in found.steps for each in step.fields
            }
    assert len({loaded.content_hash for loaded in catalogue.definitions}) == len(
        catalogue.definitions
    )


def test_every_field_type_is_used(catalogue: Catalogue) -> None:
    used = {
        each.type
        for loaded in catalogue.definitions
        for step in loaded.definition.steps
        for each in all_fields(step.fields)
    }
    assert used == set(FIELD_CLASSES)


def test_every_condition_kind_is_used_in_every_place_a_condition_goes(
    catalogue: Catalogue,
) -> None:
    kinds: set[str] = set()
    places: set[str] = set()
    for loaded in catalogue.definitions:
        for place, condition in uses_of(loaded.definition):
            places.add(place)
            kinds.update(kinds_of(condition.root))
    assert kinds == CONDITION_KINDS
    assert places == {"when", "exit", "visible", "required-if"}


def test_the_catalogue_offers_each_kind_of_access_audience_and_channel(
    catalogue: Catalogue,
) -> None:
    definitions = [loaded.definition for loaded in catalogue.definitions]
    assert any(d.access.level == "high" for d in definitions)
    assert any(d.access.level == "substantial" for d in definitions)
    assert any(d.audience == ("company",) for d in definitions)
    assert any(d.access.login == "optional" and d.channel == "online" for d in definitions)
    assert any(d.channel == "paper" for d in definitions)
    assert {d.theme for d in definitions} <= set(catalogue.themes)


def test_a_paper_procedure_is_an_etracking_paper_form_of_its_own_administration(
    catalogue: Catalogue,
) -> None:
    papers = [d.definition for d in catalogue.definitions if d.definition.channel == "paper"]
    assert papers
    for paper in papers:
        assert paper.paper_form is not None
        assert paper.steps == ()
        assert find_paper_form(paper.paper_form).administration == paper.administration


def test_attachments_ask_for_wallet_piece_types(catalogue: Catalogue) -> None:
    asked = {
        piece_type
        for loaded in catalogue.definitions
        for step in loaded.definition.steps
        for each in all_fields(step.fields)
        for piece_type in getattr(each, "piece_types", ())
    }
    assert asked
    for piece_type in asked:
        assert find_piece_type(piece_type).uploadable, piece_type


def test_online_procedures_follow_the_correction_cycle(catalogue: Catalogue) -> None:
    for loaded in catalogue.definitions:
        found = loaded.definition
        if found.channel != "online":
            continue
        first, *_ = found.statuses
        assert first.cancellable and not first.end, found.code
        asking = [status for status in found.statuses if status.asks_citizen]
        assert len(asking) == 1, found.code
        assert asking[0].notify and not asking[0].end, found.code
        assert [status for status in found.statuses if status.end], found.code
        assert all(status.notify for status in found.statuses if status.end), found.code
        assert not any(status.cancellable for status in found.statuses if status.end)


def test_keywords_help_search_in_each_language(catalogue: Catalogue) -> None:
    for loaded in catalogue.definitions:
        for language in Language:
            assert len(loaded.definition.keywords.words(language)) >= 5, loaded.definition.code
    change = definition(catalogue, "change-of-address").keywords
    assert "déménagement" in change.words(Language.FR)
    assert "Umzug" in change.words(Language.DE)
    assert "moving" in change.words(Language.EN)


# --- the forms behave as expected -------------------------------------------------------------


def form(catalogue: Catalogue, code: str) -> Form:
    return Form(definition(catalogue, code), today=TODAY)


def exit_text(found: Form, answers: dict[str, Any]) -> str | None:
    message = found.exit_message(answers)
    return None if message is None else message.render(Language.EN)


def test_a_complete_change_of_address_is_accepted(catalogue: Catalogue) -> None:
    change = form(catalogue, "change-of-address")
    answers = {
        "move_kind": "within",
        "moving_date": "2025-06-01",
        "new_address": ADDRESS,
        "previous_address": {**ADDRESS, "street": "Avenue de la Liberté"},
        "housing_status": "tenant",
        "landlord_name": "Marie Schmit",
        "moving_alone": False,
        "members": [
            {
                "last_name": "Weber",
                "first_name": "Lena",
                "birth_date": "2015-03-02",
                "relationship": "child",
            }
        ],
        "email": "jean.weber@example.lu",
        "phone": "+352 621 123 456",
    }
    cleaned = change.check_all(answers)
    assert cleaned["phone"] == "+352621123456"
    assert exit_text(change, answers) is None
    # Moving alone hides the household members: they are dropped, not stored.
    alone = change.check_all({**answers, "moving_alone": True})
    assert "members" not in alone
    assert "please visit" in (exit_text(change, {**answers, "move_kind": "departure"}) or "")


def test_a_host_is_asked_only_of_a_person_staying_with_someone(catalogue: Catalogue) -> None:
    change = form(catalogue, "change-of-address")
    answers = {
        "move_kind": "abroad",
        "moving_date": "2025-06-01",
        "new_address": ADDRESS,
        "previous_address": {**ADDRESS, "country": "FR", "postcode": "57000", "locality": "Metz"},
        "housing_status": "hosted",
    }
    with pytest.raises(InvalidAnswers) as raised:
        change.check_step("move", answers, {})
    missing = {error.field for error in raised.value.fields}
    assert missing == {"previous_country_registration", "host_name", "host_national_id"}


@pytest.mark.parametrize(
    ("answers", "ends"),
    [
        ({"birth_date": "1988-01-10", "resident": True, "own_income": "0"}, True),  # 37
        ({"birth_date": "2005-01-10", "resident": True, "own_income": "60000"}, True),
        ({"birth_date": "2005-01-10", "resident": True, "own_income": "59999.99"}, False),
        (
            {
                "birth_date": "2005-01-10",
                "resident": False,
                "parent_works_in_luxembourg": False,
                "own_income": "0",
            },
            True,
        ),
    ],
)
def test_student_aid_ends_by_age_income_or_residence(
    catalogue: Catalogue, answers: dict[str, Any], ends: bool
) -> None:
    aid = form(catalogue, "student-financial-aid")
    assert (exit_text(aid, {"lives_with_parents": True, **answers}) is not None) is ends


def test_student_aid_asks_for_the_household_only_of_a_student_living_with_parents(
    catalogue: Catalogue,
) -> None:
    aid = form(catalogue, "student-financial-aid")
    steps = [step.id for step in aid.applicable_steps({"lives_with_parents": False})]
    assert steps == ["student", "studies", "payment"]
    assert "household" in [step.id for step in aid.applicable_steps({"lives_with_parents": True})]
    household = {
        "household_members": [
            {"first_name": "Anne", "last_name": "Muller", "relationship": "parent",
             "member_birth_date": "1970-05-04", "annual_income": "52000"},
            {"first_name": "Tom", "last_name": "Muller", "relationship": "sibling",
             "member_birth_date": "2008-09-01", "also_student": False},
        ],
        "household_income": "52000",
    }  # fmt: skip
    # Two members: the number of dependent brothers and sisters is asked.
    with pytest.raises(InvalidAnswers) as raised:
        aid.check_step("household", household, {"lives_with_parents": True})
    assert [e.field for e in raised.value.fields] == ["siblings_in_household"]
    result = aid.check_step(
        "household", {**household, "siblings_in_household": 1}, {"lives_with_parents": True}
    )
    assert result.values["household_income"] == "52000.00"


@pytest.mark.parametrize(
    ("rank", "birth", "ends"),
    [
        ("first", "2019-06-16", True),
        ("first", "2019-06-17", False),
        ("second", "2019-01-01", False),
    ],
)
def test_parental_leave_ends_when_the_child_is_too_old(
    catalogue: Catalogue, rank: str, birth: str, ends: bool
) -> None:
    leave = form(catalogue, "parental-leave-allowance")
    answers = {"leave_rank": rank, "child_birth_date": birth}
    assert (exit_text(leave, answers) is not None) is ends


def test_parental_leave_asks_why_for_a_leave_already_started(catalogue: Catalogue) -> None:
    leave = form(catalogue, "parental-leave-allowance")
    with pytest.raises(InvalidAnswers) as raised:
        leave.check_step("leave", {"leave_form": "full_4", "start_date": "2025-06-01"}, {})
    assert [e.field for e in raised.value.fields] == ["late_reason"]
    assert leave.check_step("leave", {"leave_form": "full_4", "start_date": "2025-07-01"}, {})
    split = {"weekly_hours": 30, "leave_form": "split_days"}
    assert "full-time" in (exit_text(leave, split) or "")


def test_the_criminal_record_bulletin_5_is_for_work_with_minors(catalogue: Catalogue) -> None:
    extract = form(catalogue, "criminal-record-extract")
    asked = {"bulletin": "b5", "purpose": "nationality"}
    assert "bulletin no. 3" in (exit_text(extract, asked) or "")
    with pytest.raises(InvalidAnswers) as raised:
        extract.check_step(
            "extract",
            {"bulletin": "b5", "purpose": "employment", "minors_activity": "Scout leader",
             "extract_language": "fr"},
            {},
        )  # fmt: skip
    assert [e.field for e in raised.value.fields] == ["organisation"]
    general = {"bulletin": "b3", "purpose": "employment", "extract_language": "de"}
    assert extract.check_step("extract", general, {}).values == general


def test_a_dog_without_insurance_cannot_be_registered(catalogue: Catalogue) -> None:
    dog = form(catalogue, "dog-licence")
    assert "insurance" in (exit_text(dog, {"insured": False}) or "")
    assert exit_text(dog, {"insured": True}) is None


def test_building_works_ask_by_the_kind_of_works(catalogue: Catalogue) -> None:
    works = form(catalogue, "building-works-notice")
    assert "building permit" in (exit_text(works, {"works_types": ["roof", "extension"]}) or "")
    roof = {"works_types": ["roof"], "protected_building": True, "estimated_cost": "80000"}
    assert "heritage" in (exit_text(works, roof) or "").lower()
    inside = {**roof, "works_types": ["interior"]}  # the heritage question is hidden
    assert exit_text(works, inside) is None


def test_a_birth_record_needs_the_parents_names_only_without_an_identification_number(
    catalogue: Catalogue,
) -> None:
    birth = form(catalogue, "birth-certificate-copy")
    person = {
        "whose": "grandparent",
        "last_name": "Hoffmann",
        "first_names": "Nicolas",
        "birth_date": "1940-02-11",
        "birth_place": "Esch-sur-Alzette",
    }
    with pytest.raises(InvalidAnswers) as raised:
        birth.check_step("person", person, {})
    assert [e.field for e in raised.value.fields] == ["parents_names"]
    own = {"whose": "self", "birth_date": "1990-04-01", "birth_place": "Diekirch"}
    assert birth.check_step("person", own, {}).values == own
    assert exit_text(birth, {**person, "birth_date": "1925-06-16"}) is not None


def test_some_procedures_have_a_quota_or_an_opening_day(catalogue: Catalogue) -> None:
    aid = definition(catalogue, "student-financial-aid")
    assert aid.opens_on == date(2026, 8, 1) and aid.closes_on is None
    assert aid.quota is not None and aid.quota.per_period is not None
    assert aid.quota.per_period.period == "year"
    dog = definition(catalogue, "dog-licence")
    assert dog.quota is not None and dog.quota.per_period is not None
    # The journeys' procedures stay unlimited: their tests submit them again and again.
    for code in ("change-of-address", "criminal-record-extract", "parental-leave-allowance"):
        found = definition(catalogue, code)
        assert (found.quota, found.opens_on, found.closes_on) == (None, None, None)
