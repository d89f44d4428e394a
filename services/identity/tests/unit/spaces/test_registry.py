"""Register numbers of professional spaces, as the kit's company number type reads them."""

import pytest

from guichet_kit.values import InvalidValue, parse_company_number


@pytest.mark.parametrize(
    ("text", "number"),
    [("B123456", "B123456"), ("b 123 456", "B123456"), ("F1", "F1"), (" B52 ", "B52")],
)
def test_a_register_number_is_a_letter_and_digits(text: str, number: str) -> None:
    assert parse_company_number(text) == number


@pytest.mark.parametrize(
    "text", ["", "B", "123456", "B1234567", "B012345", "BB12345", "B12-345", "É12345"]
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_company_number(text)
