"""The national identifier: YYYYMMDD, a 3-digit sequence, a Luhn digit and a Verhoeff digit.

Both check digits are computed over the first 11 digits. Luhn alone misses the 09↔90
transposition; Verhoeff catches every single-digit error and every adjacent transposition of the
11 digits; and a swap that touches a check digit changes the digit the other check expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from guichet_kit.i18n import Catalog, Text

LUXEMBOURG = ZoneInfo("Europe/Luxembourg")

LENGTH = 13
PAYLOAD_LENGTH = 11
EARLIEST_BIRTH_YEAR = 1900

Reason = Literal["format", "birth_date", "luhn", "verhoeff"]

# Verhoeff's tables: multiplication in the dihedral group D5, a position permutation, inverses.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)

_ = Catalog("guichet_kit")
_MESSAGES: dict[Reason, Text] = {
    "format": _("A national identification number has 13 digits."),
    "birth_date": _("The first 8 digits are not a possible birth date."),
    "luhn": _("The 12th digit (Luhn check) does not match: check the number."),
    "verhoeff": _("The 13th digit (Verhoeff check) does not match: check the number."),
}


class InvalidNationalId(ValueError):
    def __init__(self, reason: Reason) -> None:
        super().__init__(str(_MESSAGES[reason]))
        self.reason: Reason = reason
        self.message = _MESSAGES[reason]


@dataclass(frozen=True)
class NationalId:
    value: str
    birth_date: date

    def __str__(self) -> str:
        return self.value


def luhn_digit(payload: str) -> int:
    """The digit that makes `payload + digit` pass the Luhn check."""
    total = 0
    # The rightmost payload digit is doubled, since the check digit will follow it.
    for index, char in enumerate(reversed(payload)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def verhoeff_digit(payload: str) -> int:
    """The digit that makes `payload + digit` pass the Verhoeff check."""
    check = 0
    for index, char in enumerate(reversed(payload)):
        check = _D[check][_P[(index + 1) % 8][int(char)]]
    return _INV[check]


def _birth_date(payload: str, today: date | None) -> date:
    try:
        born = date(int(payload[0:4]), int(payload[4:6]), int(payload[6:8]))
    except ValueError:
        raise InvalidNationalId("birth_date") from None
    # "Today" where the people are: a child born just after midnight in Luxembourg exists
    # even while the server's UTC date is still yesterday.
    if born.year < EARLIEST_BIRTH_YEAR or born > (today or datetime.now(LUXEMBOURG).date()):
        raise InvalidNationalId("birth_date")
    return born


def validate_national_id(text: str, *, today: date | None = None) -> NationalId:
    """The identifier in `text` (spaces allowed, as people write it in groups), or a refusal."""
    value = "".join(text.split())
    if len(value) != LENGTH or not value.isascii() or not value.isdigit():
        raise InvalidNationalId("format")
    payload = value[:PAYLOAD_LENGTH]
    # Check digits before the date: a typo in the date is then reported as the typo it is.
    if int(value[11]) != luhn_digit(payload):
        raise InvalidNationalId("luhn")
    if int(value[12]) != verhoeff_digit(payload):
        raise InvalidNationalId("verhoeff")
    return NationalId(value, _birth_date(payload, today))


def make_national_id(birth_date: date, sequence: int) -> NationalId:
    """A well-formed identifier (tests, synthetic registers); not a registered person."""
    if not 0 <= sequence <= 999:
        raise ValueError("the sequence has 3 digits")
    payload = f"{birth_date:%Y%m%d}{sequence:03d}"
    return NationalId(
        f"{payload}{luhn_digit(payload)}{verhoeff_digit(payload)}", birth_date=birth_date
    )
