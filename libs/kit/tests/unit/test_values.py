"""The shared value types: each gives the clean value or a refusal with a reason and a message."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guichet_kit.domain import FieldErrors
from guichet_kit.i18n import Language
from guichet_kit.values import (
    InvalidValue,
    check,
    parse_company_number,
    parse_email,
    parse_human_text,
    parse_language_code,
    parse_national_id,
    parse_phone,
    parse_uuid,
)


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("  Anne   Marie ", "Anne Marie"),
        ("Le\u0301a", "Léa"),  # decomposed e + accent → NFC
        ("Müller-Łukasz", "Müller-Łukasz"),
        (
            "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
            "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
        ),
    ],
)
def test_human_text_is_folded_and_normalised(text: str, clean: str) -> None:
    assert parse_human_text(text, max_length=100) == clean


@pytest.mark.parametrize(
    "text",
    [
        "Anne\u202eeciL",
        "Anne\u001b[31m",
        "Anne\u2066x\u2069",
        "An\u200fne",
        "A\u0007",
        "An\u00adne",  # soft hyphen: invisible
        "An\ufeffne",  # byte order mark
        "An\ue000ne",  # private use
    ],
)
def test_control_and_bidirectional_override_characters_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        parse_human_text(text, max_length=100)
    assert refused.value.reason == "control_character"
    assert "\u202e" not in str(refused.value.message)


def test_line_breaks_are_kept_only_in_multiline_text() -> None:
    assert parse_human_text("a\r\n  b ", max_length=10, multiline=True) == "a\nb"
    assert parse_human_text("a\n b", max_length=10) == "a b"


def test_required_and_length_are_checked_after_folding() -> None:
    with pytest.raises(InvalidValue, match="required"):
        parse_human_text("   ", max_length=5)
    assert parse_human_text("", max_length=5, required=False) == ""
    with pytest.raises(InvalidValue) as refused:
        parse_human_text("abcdef", max_length=5)
    assert refused.value.reason == "too_long"
    assert refused.value.message.render(Language.DE) == "Höchstens 5 Zeichen."


@given(st.text(max_size=60))
def test_human_text_never_lets_a_control_character_through(text: str) -> None:
    try:
        clean = parse_human_text(text, max_length=100, required=False)
    except InvalidValue:
        return
    assert all(c.isprintable() or c in " \u200c\u200d" for c in clean)


def test_email_is_normalised_and_bounded() -> None:
    assert parse_email(" Anne@Example.LU ") == "Anne@example.lu"
    for bad, reason in (("", "required"), ("anne@", "invalid"), ("a" * 250 + "@x.lu", "too_long")):
        with pytest.raises(InvalidValue) as refused:
            parse_email(bad)
        assert refused.value.reason == reason


def test_phone_numbers_are_e164_and_mobiles_are_told_apart() -> None:
    assert parse_phone("621 123 456") == "+352621123456"
    assert parse_phone("+352 27 12 34 56") == "+35227123456"
    with pytest.raises(InvalidValue) as refused:
        parse_phone("+352 27 12 34 56", mobile=True)
    assert refused.value.reason == "not_mobile"
    with pytest.raises(InvalidValue):
        parse_phone("call me")


def test_company_numbers_are_compacted() -> None:
    assert parse_company_number("b 123 456") == "B123456"
    for bad in ("123456", "B0123", "B1234567", ""):
        with pytest.raises(InvalidValue):
            parse_company_number(bad)


def test_uuid_language_and_national_id() -> None:
    value = uuid.uuid4()
    assert parse_uuid(f" {value} ") == value
    with pytest.raises(InvalidValue):
        parse_uuid("not-a-uuid")
    assert parse_language_code("DE") is Language.DE
    for bad in ("lb", "en-GB", ""):
        with pytest.raises(InvalidValue):
            parse_language_code(bad)
    with pytest.raises(InvalidValue) as refused:
        parse_national_id("1985061200139")
    assert refused.value.reason == "luhn"


def test_check_collects_every_wrong_field() -> None:
    errors = FieldErrors()
    assert check(errors, "email", parse_email, "anne@example.lu") == "anne@example.lu"
    assert check(errors, "phone", parse_phone, "12") is None
    assert check(errors, "space", parse_uuid, "x") is None
    assert [(e.field, e.reason) for e in errors.errors] == [
        ("phone", "invalid"),
        ("space", "invalid"),
    ]
