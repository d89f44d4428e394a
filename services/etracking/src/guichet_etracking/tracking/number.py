"""eTracking numbers: short, readable, and self-checking.

A number is ``ET`` + an 8-character random body + one check character, all nine in Crockford
base32. It is shown as ``ET-XXXX-XXXX-C`` and stored as ``ETXXXXXXXXC``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal

from guichet_kit.i18n import Catalog, Text

PREFIX = "ET"
BODY_LENGTH = 8
# Crockford base32: no I, L, O (misread as 1, 1, 0) and no U, so a number is easy to read aloud.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# The check is ISO/IEC 7064 MOD 37-2 (pure system), with character values taken from the
# standard's 0-9A-Z(*) alphabet. MOD 37-2 rather than hybrid MOD 37,36: the hybrid system lets
# about 1 in 500 adjacent transpositions through (e.g. ...A9... <-> ...9A... at some positions),
# the pure system with its prime modulus catches every single substitution and every adjacent
# transposition. Bodies whose check would be I, L, O, U or * are never issued (5 in 37), so the
# check character is itself Crockford and the same look-alike folding applies to all nine.
_STANDARD_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_MODULUS = 37
_RADIX = 2

# O, I and L never occur in a number, so reading them as 0, 1, 1 can only repair a misreading.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]+")  # also typographic dashes from copy-paste
_ = Catalog("guichet_etracking")

InvalidReason = Literal["format", "check_character"]


class InvalidTrackingNumber(ValueError):
    """A text that is not a well-formed eTracking number; refused before any lookup."""

    def __init__(self, reason: InvalidReason, message: Text) -> None:
        super().__init__(str(message))
        self.reason: InvalidReason = reason
        self.message = message


def _expected_check_character(body: str) -> str:
    check = 0
    for char in body:
        check = (check * _RADIX + _STANDARD_ALPHABET.index(char)) % _MODULUS
    return _STANDARD_ALPHABET[(1 - check * _RADIX) % _MODULUS]


@dataclass(frozen=True, slots=True)
class TrackingNumber:
    """A valid eTracking number; constructing one with a bad body or check character fails."""

    body: str
    check_character: str

    def __post_init__(self) -> None:
        if len(self.body) != BODY_LENGTH or any(c not in ALPHABET for c in self.body):
            raise InvalidTrackingNumber(
                "format",
                _(
                    "The body of an eTracking number is {length} characters from {alphabet}.",
                    length=BODY_LENGTH,
                    alphabet=ALPHABET,
                ),
            )
        if self.check_character != _expected_check_character(self.body):
            raise InvalidTrackingNumber(
                "check_character",
                _(
                    "This eTracking number contains a typing error (its check character does not "
                    "match); please compare it character by character with your eTracking sheet."
                ),
            )

    @property
    def canonical(self) -> str:
        """``ETXXXXXXXXC``: the form used in storage, URLs and barcodes."""
        return f"{PREFIX}{self.body}{self.check_character}"

    @property
    def display(self) -> str:
        """``ET-XXXX-XXXX-C``: the form printed on the sheet and shown to people."""
        return f"{PREFIX}-{self.body[:4]}-{self.body[4:]}-{self.check_character}"

    def __str__(self) -> str:
        return self.display


def generate_tracking_number() -> TrackingNumber:
    """A fresh random number (about 2^40 possible); uniqueness is enforced where it is stored."""
    while True:
        body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
        check_character = _expected_check_character(body)
        if check_character in ALPHABET:
            return TrackingNumber(body, check_character)


def parse_tracking_number(text: str) -> TrackingNumber:
    """Read a number as typed or scanned: display or canonical form, any case, spaces, hyphens."""
    compact = _SEPARATORS.sub("", text)
    if any(not (c.isascii() and c.isalnum()) for c in compact):
        raise InvalidTrackingNumber(
            "format",
            _(
                "Only letters and digits are allowed: "
                "an eTracking number looks like ET-XXXX-XXXX-C."
            ),
        )
    compact = compact.upper()
    expected_length = len(PREFIX) + BODY_LENGTH + 1
    if len(compact) != expected_length:
        raise InvalidTrackingNumber(
            "format",
            _("Too short: an eTracking number looks like ET-XXXX-XXXX-C.")
            if len(compact) < expected_length
            else _("Too long: an eTracking number looks like ET-XXXX-XXXX-C."),
        )
    if not compact.startswith(PREFIX):
        raise InvalidTrackingNumber(
            "format", _("It must start with ET: an eTracking number looks like ET-XXXX-XXXX-C.")
        )
    characters = compact[len(PREFIX) :].translate(_LOOKALIKES)
    if "U" in characters:
        raise InvalidTrackingNumber(
            "format",
            _("The letter U never occurs in an eTracking number (ET-XXXX-XXXX-C)."),
        )
    return TrackingNumber(characters[:-1], characters[-1])
