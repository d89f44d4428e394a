"""Request references: ``PR-XXXX-XXXX-C``, given at submission, printed on the proof of deposit.

The kit's reference scheme (`guichet_kit.references`: Crockford body, ISO/IEC 7064 MOD 37-2
check character, read as typed) with the prefix PR; what is ours is the words of the refusals.
Stored in the canonical form ``PRXXXXXXXXC``.
"""

from __future__ import annotations

from guichet_kit.i18n import Catalog, Text
from guichet_kit.references import (
    ALPHABET,
    BODY_LENGTH,
    InvalidReference,
    Reference,
    ReferenceProblem,
)

_ = Catalog("guichet_procedures")


class InvalidRequestReference(InvalidReference):
    """A text that is not a well-formed request reference; refused before any lookup."""


class RequestReference(Reference):
    """A valid request reference; constructing one with a bad body or check character fails."""

    __slots__ = ()
    PREFIX = "PR"

    @classmethod
    def refusal(cls, problem: ReferenceProblem) -> InvalidRequestReference:
        return InvalidRequestReference(problem, _message(problem))


def generate_reference() -> RequestReference:
    """A fresh random reference (about 2^40 possible); the requests table's unique constraint
    is what makes it unique: on a collision, draw again."""
    return RequestReference.generate()


def parse_reference(text: str) -> RequestReference:
    """Read a reference as typed, copied or scanned: ``PR-XXXX-XXXX-C`` or ``PRXXXXXXXXC``, any
    case, spaces or dashes, O/I/L for 0/1/1; raises InvalidRequestReference with a clear text."""
    return RequestReference.parse(text)


def _message(problem: ReferenceProblem) -> Text:
    match problem:
        case "characters":
            return _(
                "Only letters and digits are allowed: a request reference looks like "
                "PR-XXXX-XXXX-C."
            )
        case "too_short":
            return _("Too short: a request reference looks like PR-XXXX-XXXX-C.")
        case "too_long":
            return _("Too long: a request reference looks like PR-XXXX-XXXX-C.")
        case "prefix":
            return _("It must start with PR: a request reference looks like PR-XXXX-XXXX-C.")
        case "letter_u":
            return _("The letter U never occurs in a request reference (PR-XXXX-XXXX-C).")
        case "body":
            return _(
                "The body of a request reference is {length} characters from {alphabet}.",
                length=BODY_LENGTH,
                alphabet=ALPHABET,
            )
        case "check_character":
            return _(
                "This request reference contains a typing error (its check character does not "
                "match); please compare it character by character with your proof of deposit."
            )
