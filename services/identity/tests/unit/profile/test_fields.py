import pytest

from guichet_identity.profile.fields import (
    Address,
    Language,
    check_address,
    check_language,
    check_name,
    check_phone,
)
from guichet_kit.errors import FieldError


def _fields(errors: list[FieldError]) -> list[str]:
    return [error.field for error in errors]


def test_names_are_trimmed_and_required() -> None:
    errors: list[FieldError] = []

    assert check_name("first_name", "  Marie   Claire ", errors) == "Marie Claire"
    check_name("last_name", "   ", errors)
    check_name("first_name", "x" * 101, errors)

    assert [(e.field, e.reason) for e in errors] == [
        ("last_name", "required"),
        ("first_name", "too_long"),
    ]


@pytest.mark.parametrize(
    ("text", "e164"),
    [("+352 621 123 456", "+352621123456"), ("621 123 456", "+352621123456"), ("", None)],
)
def test_phone_numbers_are_stored_in_e164(text: str, e164: str | None) -> None:
    errors: list[FieldError] = []

    assert check_phone("phone", text, errors) == e164
    assert errors == []


@pytest.mark.parametrize("text", ["12", "+352 abc", "not a number", "+1 555"])
def test_an_invalid_phone_number_is_refused(text: str) -> None:
    errors: list[FieldError] = []

    check_phone("phone", text, errors)

    assert _fields(errors) == ["phone"]


def test_languages_are_fr_de_en() -> None:
    errors: list[FieldError] = []

    assert check_language("language", "DE", errors) is Language.DE
    check_language("language", "lb", errors)

    assert _fields(errors) == ["language"]


def test_an_empty_address_means_no_address() -> None:
    errors: list[FieldError] = []

    assert check_address("address", Address(), errors) == Address()
    assert errors == []


def test_a_luxembourg_address_is_normalised() -> None:
    errors: list[FieldError] = []

    address = check_address(
        "address", Address("rue  de la Gare", "12a", "l-1611", "Luxembourg", "lu"), errors
    )

    assert errors == []
    assert address == Address("rue de la Gare", "12a", "1611", "Luxembourg", "LU")


def test_a_partial_address_names_each_missing_field() -> None:
    errors: list[FieldError] = []

    check_address("address", Address(street="rue de la Gare"), errors)

    assert _fields(errors) == ["address.postal_code", "address.locality", "address.country"]


@pytest.mark.parametrize(
    ("country", "postal_code"), [("LU", "12345"), ("FR", "7500"), ("DE", "ABCDE"), ("XX", "1234")]
)
def test_a_postal_code_or_country_that_cannot_be_is_refused(country: str, postal_code: str) -> None:
    errors: list[FieldError] = []

    check_address("address", Address("Hauptstrooss", "1", postal_code, "Town", country), errors)

    assert errors, f"{country} {postal_code} was accepted"
