"""eTracking numbers: short, readable, and self-checking.

A number is ``ET`` + an 8-character random body + one check character, all nine in Crockford
base32. It is shown as ``ET-XXXX-XXXX-C`` and stored as ``ETXXXXXXXXC``. The scheme (alphabet,
ISO/IEC 7064 MOD 37-2 check, reading as typed) is the kit's `guichet_kit.references`; what is
eTracking's here is the prefix and the words of the refusals.
"""

from __future__ import annotations

from guichet_kit.i18n import Catalog, Text
from guichet_kit.references import (
    ALPHABET,
    BODY_LENGTH,
    InvalidReference,
    Reference,
    ReferenceProblem,
    check_character,
)

PREFIX = "ET"
_ = Catalog("guichet_etracking")

# The scheme's check, under the name this module's tests have always used.
_expected_check_character = check_character


class InvalidTrackingNumber(InvalidReference):
    """A text that is not a well-formed eTracking number; refused before any lookup."""


def _message(problem: ReferenceProblem) -> Text:
    match problem:
        case "characters":
            return _(
                "Only letters and digits are allowed: "
                "an eTracking number looks like ET-XXXX-XXXX-C."
            )
        case "too_short":
            return _("Too short: an eTracking number looks like ET-XXXX-XXXX-C.")
        case "too_long":
            return _("Too long: an eTracking number looks like ET-XXXX-XXXX-C.")
        case "prefix":
            return _("It must start with ET: an eTracking number looks like ET-XXXX-XXXX-C.")
        case "letter_u":
            return _("The letter U never occurs in an eTracking number (ET-XXXX-XXXX-C).")
        case "body":
            return _(
                "The body of an eTracking number is {length} characters from {alphabet}.",
                length=BODY_LENGTH,
                alphabet=ALPHABET,
            )
        case "check_character":
            return _(
                "This eTracking number contains a typing error (its check character does not "
                "match); please compare it character by character with your eTracking sheet."
            )


class TrackingNumber(Reference):
    """A valid eTracking number; constructing one with a bad body or check character fails."""

    __slots__ = ()
    PREFIX = PREFIX

    @classmethod
    def refusal(cls, problem: ReferenceProblem) -> InvalidTrackingNumber:
        return InvalidTrackingNumber(problem, _message(problem))


def generate_tracking_number() -> TrackingNumber:
    """A fresh random number (about 2^40 possible); uniqueness is enforced where it is stored."""
    return TrackingNumber.generate()


def parse_tracking_number(text: str) -> TrackingNumber:
    """Read a number as typed or scanned: display or canonical form, any case, spaces, hyphens."""
    return TrackingNumber.parse(text)
