"""Trade and companies register numbers, Luxembourg RCS style: a section letter and digits."""

from __future__ import annotations

import re

# Section letter (B: commercial companies, F: non-profit associations, ...) and up to 6 digits.
_RCS = re.compile(r"[A-Z][1-9][0-9]{0,5}")


class InvalidRegistryNumber(ValueError):
    pass


def normalise_registry_number(text: str) -> str:
    """`b 123 456` → `B123456`; spaces are how people copy it from an extract."""
    value = "".join(text.split()).upper()
    if not _RCS.fullmatch(value):
        raise InvalidRegistryNumber(
            f"{text!r} is not a register number: a letter and 1 to 6 digits, e.g. B123456"
        )
    return value
