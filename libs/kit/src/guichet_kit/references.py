"""Human references: short, readable, and self-checking (eTracking numbers, request references).

A reference is a 2-letter prefix naming what it refers to + an 8-character random body + one
check character, all nine in Crockford base32. It is shown as ``PP-XXXX-XXXX-C`` and stored as
``PPXXXXXXXXC``. A service declares its kind with a subclass naming the prefix and, where its
texts should speak of its own thing ("an eTracking number"), the refusal it raises.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import ClassVar, Literal, Self

from guichet_kit.i18n import Catalog, Text

BODY_LENGTH = 8
# Crockford base32: no I, L, O (misread as 1, 1, 0) and no U, so a reference is easy to read aloud.
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

# O, I and L never occur in a reference, so reading them as 0, 1, 1 can only repair a misreading.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015]+")  # also typographic dashes from copy-paste
_PREFIX = re.compile(r"[A-Z]{2}")
_ = Catalog("guichet_kit")

# What is wrong with a text, precisely enough for a service to say it in its own words.
ReferenceProblem = Literal[
    "characters",  # something else than ASCII letters and digits (besides separators)
    "too_short",
    "too_long",
    "prefix",  # not this kind's two letters
    "letter_u",  # U is not Crockford: never in a reference
    "body",  # a body that is not 8 Crockford characters (building one directly)
    "check_character",  # well formed, but a typing error: the check character does not match
]
# The coarse reason services expose: the format is wrong, or it is a typing error.
InvalidReason = Literal["format", "check_character"]


class InvalidReference(ValueError):
    """A text that is not a well-formed reference of its kind; refused before any lookup."""

    def __init__(self, problem: ReferenceProblem, message: Text) -> None:
        super().__init__(str(message))
        self.problem: ReferenceProblem = problem
        self.reason: InvalidReason = "check_character" if problem == "check_character" else "format"
        self.message = message


def check_character(body: str) -> str:
    """The ISO/IEC 7064 MOD 37-2 check character of `body` (characters of 0-9A-Z*)."""
    check = 0
    for char in body:
        check = (check * _RADIX + _STANDARD_ALPHABET.index(char)) % _MODULUS
    return _STANDARD_ALPHABET[(1 - check * _RADIX) % _MODULUS]


@dataclass(frozen=True, slots=True)
class Reference:
    """A valid reference of a kind (a subclass setting PREFIX); constructing one with a bad body
    or check character fails with the kind's refusal."""

    PREFIX: ClassVar[str] = ""

    body: str
    check_character: str

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.PREFIX):
            raise TypeError(f"{type(self).__name__}.PREFIX must be two capital letters")
        if len(self.body) != BODY_LENGTH or any(c not in ALPHABET for c in self.body):
            raise self.refusal("body")
        if self.check_character != check_character(self.body):
            raise self.refusal("check_character")

    @classmethod
    def refusal(cls, problem: ReferenceProblem) -> InvalidReference:
        """The error for `problem`; a kind overrides it to speak of its own thing."""
        return InvalidReference(problem, _generic_message(problem, cls.example()))

    @classmethod
    def example(cls) -> str:
        """What a reference of this kind looks like: ``PP-XXXX-XXXX-C``."""
        return f"{cls.PREFIX}-XXXX-XXXX-C"

    @property
    def canonical(self) -> str:
        """``PPXXXXXXXXC``: the form used in storage, URLs and barcodes."""
        return f"{self.PREFIX}{self.body}{self.check_character}"

    @property
    def display(self) -> str:
        """``PP-XXXX-XXXX-C``: the form printed on paper and shown to people."""
        return f"{self.PREFIX}-{self.body[:4]}-{self.body[4:]}-{self.check_character}"

    def __str__(self) -> str:
        return self.display

    @classmethod
    def generate(cls) -> Self:
        """A fresh random reference (about 2^40 possible); uniqueness is enforced where it is
        stored."""
        while True:
            body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
            check = check_character(body)
            if check in ALPHABET:
                return cls(body, check)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Read a reference as typed or scanned: display or canonical form, any case, spaces,
        hyphens, and O/I/L for 0/1/1."""
        compact = _SEPARATORS.sub("", text)
        if any(not (c.isascii() and c.isalnum()) for c in compact):
            raise cls.refusal("characters")
        compact = compact.upper()
        expected_length = len(cls.PREFIX) + BODY_LENGTH + 1
        if len(compact) != expected_length:
            raise cls.refusal("too_short" if len(compact) < expected_length else "too_long")
        if not compact.startswith(cls.PREFIX):
            raise cls.refusal("prefix")
        characters = compact[len(cls.PREFIX) :].translate(_LOOKALIKES)
        if "U" in characters:
            raise cls.refusal("letter_u")
        return cls(characters[:-1], characters[-1])


def _generic_message(problem: ReferenceProblem, example: str) -> Text:
    match problem:
        case "characters":
            return _(
                "Only letters and digits are allowed: a reference looks like {example}.",
                example=example,
            )
        case "too_short":
            return _("Too short: a reference looks like {example}.", example=example)
        case "too_long":
            return _("Too long: a reference looks like {example}.", example=example)
        case "prefix":
            return _(
                "It must start with {prefix}: a reference looks like {example}.",
                prefix=example[:2],
                example=example,
            )
        case "letter_u":
            return _("The letter U never occurs in a reference ({example}).", example=example)
        case "body":
            return _(
                "The body of a reference is {length} characters from {alphabet}.",
                length=BODY_LENGTH,
                alphabet=ALPHABET,
            )
        case "check_character":
            return _(
                "This reference contains a typing error (its check character does not match); "
                "please compare it character by character."
            )
