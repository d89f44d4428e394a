"""The registry of purposes: who may declare which, and which fields each allows."""

from __future__ import annotations

import pytest

from guichet_authentic_data.access.purposes import PURPOSES, Purpose
from guichet_authentic_data.access.service import (
    FieldOutsidePurpose,
    PurposeNotGranted,
    PurposeUnknown,
    Reader,
    Subject,
    SubjectOfOtherKind,
    check_read,
)
from guichet_authentic_data.registers.fields import FIELDS

ANNE = Subject("person", "1980010112345")
ACME = Subject("company", "B123456")
IDENTITY = Reader("platform_service", "identity")
SNCA = Reader("administration", "snca", agent="clerk")
SELF = Reader("self", "1980010112345")


def test_every_purpose_names_fields_that_exist_for_its_kind_of_subject() -> None:
    for purpose in PURPOSES.values():
        assert purpose.fields, purpose.code
        for name in purpose.fields:
            assert FIELDS[name].subject_kind == purpose.subject_kind, (purpose.code, name)


def test_a_purpose_with_a_field_of_the_wrong_kind_cannot_be_declared() -> None:
    with pytest.raises(ValueError, match="bad fields"):
        Purpose("x:y", PURPOSES["citizen:self"].label, "person", ("company.name",))


def test_every_purpose_is_granted_to_someone_and_citizens_only_hold_citizen_purposes() -> None:
    for purpose in PURPOSES.values():
        assert purpose.self_service or purpose.services or purpose.administrations
        assert purpose.self_service == purpose.code.startswith("citizen:")


def test_an_empty_field_list_means_every_field_of_the_purpose_in_its_order() -> None:
    purpose, specs = check_read("snca:licence-points", ANNE, [], SNCA)
    assert [spec.name for spec in specs] == list(purpose.fields)


def test_a_field_asked_twice_is_read_once() -> None:
    _purpose, specs = check_read(
        "identity:declare-child", ANNE, ["person.children", "person.children"], IDENTITY
    )
    assert [spec.name for spec in specs] == ["person.children"]


@pytest.mark.parametrize(
    ("purpose", "subject", "fields", "reader", "refusal"),
    [
        ("identity:everything", ANNE, [], IDENTITY, PurposeUnknown),
        ("", ANNE, [], IDENTITY, PurposeUnknown),
        ("snca:licence-points", ANNE, [], IDENTITY, PurposeNotGranted),
        ("identity:declare-child", ANNE, [], SNCA, PurposeNotGranted),
        ("identity:declare-child", ANNE, [], SELF, PurposeNotGranted),
        ("citizen:self", ANNE, [], IDENTITY, PurposeNotGranted),
        ("citizen:self", ANNE, [], Reader("administration", "acd"), PurposeNotGranted),
        ("identity:declare-child", ACME, [], IDENTITY, SubjectOfOtherKind),
        ("identity:company-director", ANNE, [], IDENTITY, SubjectOfOtherKind),
        ("identity:declare-child", ANNE, ["person.address"], IDENTITY, FieldOutsidePurpose),
        ("snca:licence-points", ANNE, ["tax_credit.used"], SNCA, FieldOutsidePurpose),
    ],
)
def test_a_read_outside_the_registry_is_refused(
    purpose: str, subject: Subject, fields: list[str], reader: Reader, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        check_read(purpose, subject, fields, reader)
