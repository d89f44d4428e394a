"""Request references PR-XXXX-XXXX-C: the kit's scheme, with the procedures' own words."""

from __future__ import annotations

import re

import pytest

from guichet_kit.i18n import Language
from guichet_procedures.requests.references import (
    InvalidRequestReference,
    RequestReference,
    generate_reference,
    parse_reference,
)


def test_a_generated_reference_reads_back_in_every_form() -> None:
    reference = generate_reference()

    assert re.fullmatch(
        r"PR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]", str(reference)
    )
    assert reference.canonical == reference.display.replace("-", "")
    for typed in (
        reference.display,
        reference.canonical,
        reference.display.lower(),
        reference.display.replace("-", " "),
        reference.canonical.replace("0", "O").replace("1", "I"),
    ):
        assert parse_reference(typed) == reference


def test_an_etracking_number_is_not_a_request_reference() -> None:
    number = generate_reference()
    with pytest.raises(InvalidRequestReference, match="must start with PR") as refused:
        parse_reference("ET" + number.canonical[2:])
    assert refused.value.reason == "format"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Too short"),
        ("PR-ABCD", "Too short"),
        ("PR-ABCD-EFGH-JKL", "Too long"),
        ("PR-AB/D-EFGH-J", "Only letters and digits"),
        ("PR-ABCD-EFGH-\x00", "Only letters and digits"),
        ("PR-ABUD-EFGH-J", "letter U never occurs"),
    ],
)
def test_malformed_references_are_refused_with_a_clear_text(text: str, words: str) -> None:
    with pytest.raises(InvalidRequestReference, match=words) as refused:
        parse_reference(text)
    assert refused.value.reason == "format"
    assert "PR-XXXX-XXXX-C" in refused.value.message.render(Language.EN)


def test_a_typing_error_is_caught_by_the_check_character() -> None:
    reference = generate_reference()
    # Swap two adjacent different characters of the body: MOD 37-2 catches every such swap.
    body = reference.body
    i = next(i for i in range(len(body) - 1) if body[i] != body[i + 1])
    swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
    with pytest.raises(InvalidRequestReference, match="typing error") as refused:
        parse_reference(f"PR{swapped}{reference.check_character}")
    assert refused.value.reason == "check_character"


def test_a_reference_cannot_be_built_with_a_bad_body() -> None:
    with pytest.raises(InvalidRequestReference) as refused:
        RequestReference("ABCDEFGU", "0")
    assert refused.value.reason == "format"
