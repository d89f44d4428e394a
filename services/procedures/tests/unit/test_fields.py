"""Each field type's values: accepted and normalised, or refused with a reason and a message."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from guichet_kit.domain import FieldErrors
from guichet_kit.i18n import Language, Text
from guichet_kit.national_id import make_national_id
from guichet_procedures.definitions.fields import clean_value, display, parse_iban
from guichet_procedures.definitions.model import (
    AddressField,
    AmountField,
    AttachmentField,
    ChoiceField,
    CompanyNumberField,
    DateBound,
    DateField,
    EmailField,
    Field,
    IbanField,
    LocalText,
    LongTextField,
    MultiChoiceField,
    NationalIdField,
    NumberField,
    Option,
    PhoneField,
    TextField,
    YesNoField,
)

TODAY = date(2025, 6, 15)
LABEL = LocalText("Fr", "De", "En")
OPTIONS = (
    Option("a", LocalText("A fr", "A de", "A en")),
    Option("b", LocalText("B fr", "B de", "B en")),
)
NATIONAL_ID = make_national_id(date(1985, 3, 12), 345).value
ADDRESS = {
    "street": "Rue de la Gare",
    "house_number": "12",
    "postcode": "L-1234",
    "locality": "Luxembourg",
    "country": "lu",
}

TEXT = TextField(id="f", label=LABEL, max_length=10)
LONG = LongTextField(id="f", label=LABEL, max_length=30)
NUMBER = NumberField(id="f", label=LABEL, minimum=Decimal(1), maximum=Decimal(10), integer=True)
DECIMAL = NumberField(id="f", label=LABEL)
AMOUNT = AmountField(id="f", label=LABEL, maximum=Decimal("5000"))
DATE = DateField(id="f", label=LABEL, minimum=DateBound("today-1y"), maximum=DateBound("today"))
CHOICE = ChoiceField(id="f", label=LABEL, options=OPTIONS)
MULTI = MultiChoiceField(id="f", label=LABEL, options=OPTIONS, min_items=1, max_items=1)
YES_NO = YesNoField(id="f", label=LABEL)
ADDRESS_FIELD = AddressField(id="f", label=LABEL)
IBAN = IbanField(id="f", label=LABEL)
NATIONAL = NationalIdField(id="f", label=LABEL)
COMPANY = CompanyNumberField(id="f", label=LABEL)
EMAIL = EmailField(id="f", label=LABEL)
PHONE = PhoneField(id="f", label=LABEL)
ATTACHMENT = AttachmentField(id="f", label=LABEL, piece_types=("lease",))


def clean(field: Field, raw: Any) -> tuple[Any, FieldErrors]:
    errors = FieldErrors()
    return clean_value(field, raw, "f", errors, today=TODAY), errors


@pytest.mark.parametrize(
    ("field", "raw", "stored"),
    [
        (TEXT, "  Anne   Marie ", "Anne Marie"),
        (LONG, "line one\r\nline  two", "line one\nline two"),
        (NUMBER, 7, 7),
        (NUMBER, 7.0, 7),
        (DECIMAL, 2.5, 2.5),
        (DECIMAL, -3, -3),
        (AMOUNT, "1250.5", "1250.50"),
        (AMOUNT, "1 250,75", "1250.75"),
        (AMOUNT, "0", "0.00"),
        (DATE, "2025-06-15", "2025-06-15"),
        (DATE, "2024-06-15", "2024-06-15"),
        (CHOICE, "b", "b"),
        (MULTI, ["a"], ["a"]),
        (YES_NO, False, False),
        (ADDRESS_FIELD, ADDRESS, ADDRESS | {"postcode": "1234", "country": "LU"}),
        (
            ADDRESS_FIELD,
            {"street": "Hauptstr.", "postcode": "10115", "locality": "Berlin", "country": "DE"},
            {"street": "Hauptstr.", "postcode": "10115", "locality": "Berlin", "country": "DE"},
        ),
        (IBAN, "lu28 0019 4006 4475 0000", "LU280019400644750000"),
        (IBAN, "DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        (NATIONAL, NATIONAL_ID[:4] + " " + NATIONAL_ID[4:], NATIONAL_ID),
        (COMPANY, "b 123 456", "B123456"),
        (EMAIL, "Anne@Example.LU", "Anne@example.lu"),
        (PHONE, "621 123 456", "+352621123456"),
        (PHONE, "+49 30 901820", "+4930901820"),
    ],
)
def test_valid_values_are_stored_normalised_and_cleaning_them_again_changes_nothing(
    field: Field, raw: Any, stored: Any
) -> None:
    value, errors = clean(field, raw)
    assert not errors.errors and value == stored
    assert clean(field, value)[0] == stored


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        (TEXT, "eleven char", "too_long"),
        (TEXT, "x" * 1_000_000, "too_long"),
        (TEXT, "nul\x00byte", "control_character"),
        (TEXT, "bell\x07", "control_character"),
        (TEXT, 12, "invalid"),
        (LONG, "escape\x1b[31m", "control_character"),
        (NUMBER, 0, "too_small"),
        (NUMBER, 11, "too_large"),
        (NUMBER, 2.5, "not_integer"),
        (NUMBER, "7", "invalid"),
        (NUMBER, True, "invalid"),
        (NUMBER, float("nan"), "invalid"),
        (DECIMAL, float("inf"), "invalid"),
        (AMOUNT, "12.345", "too_precise"),
        (AMOUNT, "-5", "too_small"),
        (AMOUNT, "5000.01", "too_large"),
        (AMOUNT, "12 EUR", "invalid"),
        (AMOUNT, 12.5, "invalid"),
        (AMOUNT, "1e5", "invalid"),
        (DATE, "2025-06-16", "too_late"),
        (DATE, "2024-06-14", "too_early"),
        (DATE, "15/06/2025", "invalid"),
        (DATE, "2025-02-30", "invalid"),
        (DATE, 20250615, "invalid"),
        (CHOICE, "c", "not_an_option"),
        (CHOICE, ["a"], "invalid"),
        (MULTI, ["a", "c"], "not_an_option"),
        (MULTI, ["a", "b"], "too_many"),
        (MULTI, "a", "invalid"),
        (YES_NO, "yes", "invalid"),
        (YES_NO, 1, "invalid"),
        (ADDRESS_FIELD, "Rue de la Gare 12, Luxembourg", "invalid"),
        (IBAN, "LU28 0019 4006 4475 0001", "checksum"),
        (IBAN, "LU28 0019 4006 4475 00", "wrong_length"),
        (IBAN, "QQ28 0019 4006 4475 0000", "unknown_country"),
        (IBAN, "not an iban", "invalid"),
        (NATIONAL, "1234", "format"),
        (NATIONAL, NATIONAL_ID[:-1] + str((int(NATIONAL_ID[-1]) + 1) % 10), "verhoeff"),
        (COMPANY, "123456", "invalid"),
        (COMPANY, "B1234567", "invalid"),
        (EMAIL, "anne@", "invalid"),
        (EMAIL, "a\x00@example.lu", "control_character"),
        (PHONE, "12", "invalid"),
        (PHONE, "+352 12", "invalid"),
        (ATTACHMENT, "piece-id", "invalid"),
        (ATTACHMENT, ["not-an-id"], "invalid"),
        (ATTACHMENT, [str(uuid.UUID(int=1)), str(uuid.UUID(int=2))], "too_many_files"),
    ],
)
def test_invalid_values_are_refused_with_a_reason_and_a_translated_message(
    field: Field, raw: Any, reason: str
) -> None:
    value, errors = clean(field, raw)
    assert value is None
    (error,) = errors.errors
    assert (error.field, error.reason) == ("f", reason)
    assert isinstance(error.message, Text) and error.message.render(Language.EN)


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        (ADDRESS | {"postcode": "12345"}, [("f.postcode", "invalid")]),
        (ADDRESS | {"country": "XX"}, [("f.country", "invalid")]),
        (
            {"street": "Rue", "country": "LU"},
            [("f.postcode", "required"), ("f.locality", "required")],
        ),
        (ADDRESS | {"floor": "2"}, [("f.floor", "unknown")]),
        (ADDRESS | {"street": "x" * 151}, [("f.street", "too_long")]),
        (ADDRESS | {"locality": 5}, [("f.locality", "invalid")]),
    ],
)
def test_an_address_reports_each_wrong_part(
    raw: dict[str, Any], errors: list[tuple[str, str]]
) -> None:
    value, found = clean(ADDRESS_FIELD, raw)
    assert value is None
    assert [(error.field, error.reason) for error in found.errors] == errors


@pytest.mark.parametrize("empty", [None, "", "   ", [], {}])
def test_an_empty_value_is_no_answer(empty: Any) -> None:
    for field in (
        TEXT,
        NUMBER,
        AMOUNT,
        DATE,
        CHOICE,
        MULTI,
        YES_NO,
        ADDRESS_FIELD,
        IBAN,
        ATTACHMENT,
    ):
        assert clean(field, empty) == (None, FieldErrors()) or not clean(field, empty)[1].errors


def test_the_iban_check_is_the_iso_mod_97() -> None:
    assert parse_iban("GB82 WEST 1234 5698 7654 32") == "GB82WEST12345698765432"
    assert parse_iban("BE68 5390 0754 7034") == "BE68539007547034"


def test_messages_are_translated_in_french_and_german() -> None:
    _, errors = clean(DATE, "31.12.2025")
    (error,) = errors.errors
    assert isinstance(error.message, Text)
    english = error.message.render(Language.EN)
    assert error.message.render(Language.FR) != english
    assert error.message.render(Language.DE) != english


@pytest.mark.parametrize(
    ("field", "value", "language", "shown"),
    [
        (CHOICE, "b", Language.DE, "B de"),
        (MULTI, ["a", "b"], Language.FR, "A fr, B fr"),
        (YES_NO, True, Language.EN, "Yes"),
        (DATE, "2025-03-01", Language.EN, "1 March 2025"),
        (AMOUNT, "1234.50", Language.FR, "1.234,50\xa0€"),
        (
            ADDRESS_FIELD,
            {
                "street": "Rue X",
                "house_number": "1",
                "postcode": "1234",
                "locality": "Lux",
                "country": "LU",
            },
            Language.EN,
            "1 Rue X, 1234 Lux, Luxembourg",
        ),
        (TEXT, "Anne", Language.DE, "Anne"),
        (TEXT, None, Language.DE, ""),
    ],
)
def test_answers_read_back_in_the_persons_language(
    field: Field, value: Any, language: Language, shown: str
) -> None:
    assert display(field, value, language) == shown
