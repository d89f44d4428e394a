"""identity's own fields (names, addresses) and the kit's value types as the profile uses them."""

import pytest

from guichet_identity.profile.fields import Address, check_address, parse_name
from guichet_kit.domain import FieldErrors
from guichet_kit.i18n import Language
from guichet_kit.values import InvalidValue, check, parse_language_code, parse_phone


def _fields(errors: FieldErrors) -> list[str]:
    return [error.field for error in errors.errors]


def test_names_are_trimmed_and_required() -> None:
    errors = FieldErrors()

    assert check(errors, "first_name", parse_name, "  Marie   Claire ") == "Marie Claire"
    check(errors, "last_name", parse_name, "   ")
    check(errors, "first_name", parse_name, "x" * 101)

    assert [(e.field, e.reason) for e in errors.errors] == [
        ("last_name", "required"),
        ("first_name", "too_long"),
    ]


@pytest.mark.parametrize(
    "text", ["Anne\u202eeciL", "Anne\u001b[31m", "An\u200fne", "Anne\u2066x", "Anne\x07"]
)
def test_a_name_with_control_or_bidi_characters_is_refused(text: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        parse_name(text)

    assert refused.value.reason == "control_character"


def test_a_name_is_normalised_to_nfc() -> None:
    assert parse_name("Le\u0301a") == "L\u00e9a"


@pytest.mark.parametrize(
    ("text", "e164"),
    [("+352 621 123 456", "+352621123456"), ("621 123 456", "+352621123456")],
)
def test_phone_numbers_are_stored_in_e164(text: str, e164: str) -> None:
    assert parse_phone(text) == e164


@pytest.mark.parametrize("text", ["12", "+352 abc", "not a number", "+1 555"])
def test_an_invalid_phone_number_is_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_phone(text)


def test_languages_are_fr_de_en() -> None:
    assert parse_language_code("DE") is Language.DE
    with pytest.raises(InvalidValue):
        parse_language_code("lb")


def test_an_empty_address_means_no_address() -> None:
    errors = FieldErrors()

    assert check_address(errors, "address", Address()) == Address()
    assert not errors


def test_a_luxembourg_address_is_normalised() -> None:
    errors = FieldErrors()

    address = check_address(
        errors, "address", Address("rue  de la Gare", "12a", "l-1611", "Luxembourg", "lu")
    )

    assert not errors
    assert address == Address("rue de la Gare", "12a", "1611", "Luxembourg", "LU")


def test_a_partial_address_names_each_missing_field() -> None:
    errors = FieldErrors()

    check_address(errors, "address", Address(street="rue de la Gare"))

    assert _fields(errors) == ["address.postal_code", "address.locality", "address.country"]


@pytest.mark.parametrize(
    ("country", "postal_code"),
    [("LU", "12345"), ("FR", "7500"), ("DE", "ABCDE"), ("XX", "1234"), ("LU", "1" * 10_000)],
)
def test_a_postal_code_or_country_that_cannot_be_is_refused(country: str, postal_code: str) -> None:
    errors = FieldErrors()

    check_address(errors, "address", Address("Hauptstrooss", "1", postal_code, "Town", country))

    assert errors, f"{country} {postal_code[:20]} was accepted"


@pytest.mark.parametrize("field", ["street", "house_number", "locality"])
def test_address_texts_refuse_control_characters(field: str) -> None:
    values = {"street": "rue de la Gare", "house_number": "1", "locality": "Luxembourg"}
    values[field] = "Gare\u202e"
    errors = FieldErrors()

    check_address(errors, "address", Address(postal_code="1611", country="LU", **values))

    assert [(e.field, e.reason) for e in errors.errors] == [
        (f"address.{field}", "control_character")
    ]
