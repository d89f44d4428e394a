from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guichet_kit.national_id import (
    InvalidNationalId,
    NationalId,
    luhn_digit,
    make_national_id,
    validate_national_id,
    verhoeff_digit,
)

TODAY = date(2025, 6, 1)

national_ids = st.builds(
    make_national_id,
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(min_value=0, max_value=999),
)


def _refused(text: str) -> bool:
    try:
        validate_national_id(text, today=TODAY)
    except InvalidNationalId:
        return True
    return False


def test_luhn_digit_follows_the_classic_example() -> None:
    # 7992739871 + 3 is the textbook Luhn example.
    assert luhn_digit("7992739871") == 3


def test_verhoeff_digit_follows_the_classic_example() -> None:
    # 236 + 3 is the textbook Verhoeff example.
    assert verhoeff_digit("236") == 3
    assert verhoeff_digit("12345") == 1


def test_a_made_identifier_is_valid_and_carries_its_birth_date() -> None:
    made = make_national_id(date(1985, 3, 14), 42)

    parsed = validate_national_id(made.value, today=TODAY)

    assert parsed == made
    assert parsed.value.startswith("19850314042")
    assert parsed.birth_date == date(1985, 3, 14)


def test_spaces_between_groups_are_accepted() -> None:
    made = make_national_id(date(1985, 3, 14), 42).value
    spaced = f"{made[:4]} {made[4:8]} {made[8:11]} {made[11:]}"

    assert validate_national_id(spaced, today=TODAY).value == made


@pytest.mark.parametrize("text", ["", "123", "12345678901234", "19850314042ab", "١٩٨٥٠٣١٤٠٤٢٣٤"])
def test_anything_but_13_ascii_digits_is_a_format_error(text: str) -> None:
    with pytest.raises(InvalidNationalId) as refused:
        validate_national_id(text, today=TODAY)
    assert refused.value.reason == "format"


@pytest.mark.parametrize(
    ("born", "reason"),
    [
        ("20230230", "impossible day"),
        ("18991231", "before 1900"),
        ("20260101", "in the future"),
    ],
)
def test_an_impossible_birth_date_is_refused(born: str, reason: str) -> None:
    payload = f"{born}001"
    text = f"{payload}{luhn_digit(payload)}{verhoeff_digit(payload)}"

    with pytest.raises(InvalidNationalId) as refused:
        validate_national_id(text, today=TODAY)

    assert refused.value.reason == "birth_date", reason


def test_a_wrong_luhn_digit_is_reported_as_such() -> None:
    made = make_national_id(date(1985, 3, 14), 42).value
    wrong = f"{made[:11]}{(int(made[11]) + 1) % 10}{made[12]}"

    with pytest.raises(InvalidNationalId) as refused:
        validate_national_id(wrong, today=TODAY)

    assert refused.value.reason == "luhn"


def test_a_wrong_verhoeff_digit_is_reported_as_such() -> None:
    made = make_national_id(date(1985, 3, 14), 42).value
    wrong = f"{made[:12]}{(int(made[12]) + 1) % 10}"

    with pytest.raises(InvalidNationalId) as refused:
        validate_national_id(wrong, today=TODAY)

    assert refused.value.reason == "verhoeff"


def test_luhn_alone_misses_the_09_transposition_that_verhoeff_catches() -> None:
    # Why two check digits: Luhn does not see 09 ↔ 90.
    assert luhn_digit("1985031409") == luhn_digit("1985031490")
    assert verhoeff_digit("1985031409") != verhoeff_digit("1985031490")


@given(national_ids)
def test_every_single_digit_error_is_refused(made: NationalId) -> None:
    value = made.value
    for position in range(len(value)):
        for digit in "0123456789":
            if digit != value[position]:
                typo = value[:position] + digit + value[position + 1 :]
                assert _refused(typo), f"{typo} (position {position}) was accepted"


@given(national_ids)
def test_every_adjacent_transposition_is_refused(made: NationalId) -> None:
    value = made.value
    # Positions 10/11 and 11/12 swap a check digit with its neighbour: covered as well.
    for position in range(len(value) - 1):
        first, second = value[position], value[position + 1]
        if first != second:
            swapped = value[:position] + second + first + value[position + 2 :]
            assert _refused(swapped), f"{swapped} (positions {position}/{position + 1}) accepted"


def test_the_sequence_has_three_digits() -> None:
    with pytest.raises(ValueError, match="3 digits"):
        make_national_id(date(1985, 3, 14), 1000)
