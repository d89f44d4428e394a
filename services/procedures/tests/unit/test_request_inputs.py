"""The servicer's reading of answers, page tokens and idempotency keys; values as people read
them."""

from __future__ import annotations

import json

import pytest

from guichet_kit.domain import InvalidInput
from guichet_kit.i18n import Language
from guichet_procedures.api.citizen import (
    MAX_ANSWERS_BYTES,
    _idempotency_key,
    _page,
    page_token,
    parse_answers,
)
from guichet_procedures.api.wire import display
from guichet_procedures.definitions.model import (
    AddressField,
    ChoiceField,
    DateField,
    GroupField,
    LocalText,
    Option,
    TextField,
    YesNoField,
)


def label(en: str) -> LocalText:
    return LocalText(f"{en} fr", f"{en} de", en)


def test_answers_are_a_json_object() -> None:
    assert parse_answers('{"a": 1, "b": [true]}') == {"a": 1, "b": [True]}
    assert parse_answers("") == {}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[]", "INVALID_ANSWERS_JSON"),
        ('"text"', "INVALID_ANSWERS_JSON"),
        ("{", "INVALID_ANSWERS_JSON"),
        ('{"a": Infinity}', "INVALID_ANSWERS_JSON"),
        ("[" * 100_000 + "]" * 100_000, "INVALID_ANSWERS_JSON"),
        (json.dumps({"a": "é" * (MAX_ANSWERS_BYTES // 2)}), "ANSWERS_TOO_LARGE"),
    ],
)
def test_other_answers_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_answers(text)
    assert refused.value.reason == reason
    assert [f.field for f in refused.value.fields] == ["answers_json"]


def test_a_page_token_gives_back_its_offset_and_a_forged_one_is_refused() -> None:
    assert _page(0, "") == (0, 20)
    assert _page(5, page_token(40)) == (40, 5)
    assert page_token(None) == "" and page_token(0) == ""
    for forged in ("x", "b2Zmc2V0", page_token(40)[:-2] + "!!"):
        with pytest.raises(InvalidInput) as refused:
            _page(5, forged)
        assert [f.field for f in refused.value.fields] == ["page_token"]
    with pytest.raises(InvalidInput):
        _page(-1, "")


@pytest.mark.parametrize("key", ["", "a" * 101, "with space", "é"])
def test_an_idempotency_key_is_visible_ascii(key: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _idempotency_key(key)
    assert refused.value.reason == "INVALID_IDEMPOTENCY_KEY"


def test_values_are_shown_as_people_read_them() -> None:
    yes_no = YesNoField(id="ok", label=label("OK"))
    assert display(yes_no, True, Language.FR) == "Oui"
    choice = ChoiceField(
        id="c", label=label("C"), options=(Option("a", label("Apple")), Option("b", label("B")))
    )
    assert display(choice, "a", Language.EN) == "Apple"
    assert display(DateField(id="d", label=label("D")), "2024-03-01", Language.DE) == "1. März 2024"
    address = {"street": "Rue X", "house_number": "1", "postcode": "L-1111", "locality": "Lux"}
    address["country"] = "LU"
    assert display(AddressField(id="a", label=label("A")), address, Language.EN) == (
        "Rue X 1, L-1111 Lux, LU"
    )
    group = GroupField(id="g", label=label("G"), fields=(TextField(id="n", label=label("Name")),))
    assert display(group, [{"n": "Léa"}, {"n": "Tom"}], Language.EN) == "1. Name: Léa\n2. Name: Tom"
