"""The language field of an RPC request, read one way by every service (`request_language`)."""

from __future__ import annotations

import pytest

from guichet_kit.domain import InvalidInput
from guichet_kit.i18n import Catalog, Language, speaking
from guichet_kit.servicers import request_language


@pytest.mark.parametrize(
    ("text", "language"), [("fr", Language.FR), ("de", Language.DE), ("EN", Language.EN)]
)
def test_each_platform_language_is_read(text: str, language: Language) -> None:
    assert request_language(text) is language


def test_an_empty_field_is_the_callers_language_or_the_default_given() -> None:
    with speaking(Language.DE):
        assert request_language("") is Language.DE
        assert request_language("", default=Language.FR) is Language.FR


@pytest.mark.parametrize("text", ["it", "en-GB", "français", " ", "xx"])
def test_another_language_is_refused_on_the_language_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused, speaking(Language.FR):
        request_language(text)
    error = refused.value
    assert error.reason == "INVALID_LANGUAGE"
    assert [f.field for f in error.fields] == ["language"]
    assert str(error.message) == "The language must be fr, de or en."


def test_a_service_gives_its_own_reason_to_the_person() -> None:
    message = Catalog("guichet_kit")("Certificates are issued in fr, de or en.")
    with pytest.raises(InvalidInput) as refused:
        request_language("es", message=message)
    assert refused.value.message is message
    assert refused.value.fields[0].message is message
