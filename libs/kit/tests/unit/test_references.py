"""The reference scheme shared by eTracking numbers and request references (the exhaustive
substitution and transposition properties are tested through etracking's numbers, which are
this scheme with the prefix ET)."""

from __future__ import annotations

import re
from typing import cast

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from guichet_kit.references import (
    ALPHABET,
    InvalidReference,
    Reference,
    ReferenceProblem,
    check_character,
)


class Sample(Reference):
    __slots__ = ()
    PREFIX = "SA"


class OtherKind(Reference):
    __slots__ = ()
    PREFIX = "OK"


def _independent_mod_37_2(text: str) -> int:
    """ISO/IEC 7064 MOD 37-2 written as the standard's weighted sum: valid when it is 1."""
    values = ["0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*".index(c) for c in text]
    return sum(v * pow(2, len(values) - 1 - i, 37) for i, v in enumerate(values)) % 37


@st.composite
def samples(draw: st.DrawFn) -> Sample:
    body = draw(st.text(ALPHABET, min_size=8, max_size=8))
    check = check_character(body)
    assume(check in ALPHABET)
    return Sample(body, check)


def test_the_check_character_follows_the_standard_example() -> None:
    assert check_character("G123489654321") == "Y"


@given(samples())
def test_a_reference_round_trips_through_its_forms(reference: Sample) -> None:
    assert _independent_mod_37_2(reference.body + reference.check_character) == 1
    assert re.fullmatch(r"SA-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]", str(reference))
    assert reference.canonical == reference.display.replace("-", "")
    assert Sample.parse(reference.display.lower()) == reference
    assert Sample.parse(f" {reference.canonical[:6]} {reference.canonical[6:]} ") == reference


def test_generated_references_are_of_their_kind_and_distinct() -> None:
    references = [Sample.generate() for _ in range(500)]
    assert all(type(reference) is Sample for reference in references)
    assert all(Sample.parse(reference.canonical) == reference for reference in references)
    assert len(set(references)) == len(references)


def test_kinds_do_not_mix() -> None:
    sample = Sample.generate()
    other = OtherKind(sample.body, sample.check_character)

    assert other != cast(object, sample)  # same letters, another kind
    with pytest.raises(InvalidReference) as refused:
        OtherKind.parse(sample.display)
    assert (refused.value.problem, refused.value.reason) == ("prefix", "format")


@pytest.mark.parametrize(
    ("text", "problem", "words"),
    [
        ("SA-AB#D-EFGH-J", "characters", "Only letters and digits"),
        ("SA-ABCD-EFGH", "too_short", "Too short"),
        ("SA-ABCD-EFGH-JK", "too_long", "Too long"),
        ("XX-ABCD-EFGH-J", "prefix", "must start with SA"),
        ("SA-ABCU-EFGH-J", "letter_u", "letter U never occurs"),
    ],
)
def test_malformed_texts_are_refused_with_the_generic_words(
    text: str, problem: ReferenceProblem, words: str
) -> None:
    with pytest.raises(InvalidReference, match=words) as refused:
        Sample.parse(text)
    assert (refused.value.problem, refused.value.reason) == (problem, "format")
    assert "SA-XXXX-XXXX-C" in str(refused.value)


def test_a_typing_error_is_a_check_character_refusal() -> None:
    sample = Sample.generate()
    other = next(c for c in ALPHABET if c != sample.check_character)
    with pytest.raises(InvalidReference, match="typing error") as refused:
        Sample.parse(sample.canonical[:-1] + other)
    assert (refused.value.problem, refused.value.reason) == ("check_character", "check_character")


def test_a_reference_cannot_be_built_with_a_bad_body() -> None:
    with pytest.raises(InvalidReference) as refused:
        Sample("ABCDEFGO", "0")
    assert refused.value.problem == "body"


def test_the_scheme_itself_is_not_a_kind() -> None:
    with pytest.raises(TypeError, match="PREFIX"):
        Reference("ABCDEFGH", check_character("ABCDEFGH"))
