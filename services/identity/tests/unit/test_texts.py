"""Every text identity shows a person exists in French and German (English is the message id),
and every reason it raises has a title in the kit's catalogue of reasons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from guichet_kit.i18n import TRANSLATED, Catalog, Language
from guichet_kit.reasons import TITLES, title

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "guichet_identity"
CATALOG = Catalog("guichet_identity")
MESSAGE_IDS = sorted(
    {
        str(message)
        for _, _, message, _, _ in extract_from_dir(
            str(PACKAGE), method_map=[("**.py", "python")], keywords={"_": None, "N_": None}
        )
    }
)
# Reasons are the first argument of a domain error, always an upper-case literal.
_RAISED = re.compile(
    r"\b(?:InvalidInput|NotFound|Forbidden|Conflict|AlreadyExists|Unauthenticated|Exhausted"
    r"|Unavailable)\(\s*\"([A-Z_]+)\""
)


def test_the_catalogue_has_texts() -> None:
    assert len(MESSAGE_IDS) > 50


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_is_translated(language: Language) -> None:
    messages = CATALOG.messages(language)
    missing = [msgid for msgid in MESSAGE_IDS if not messages.get(msgid)]
    assert missing == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language: Language) -> None:
    messages = CATALOG.messages(language)
    for msgid in MESSAGE_IDS:
        placeholders = set(re.findall(r"\{(\w+)\}", msgid))
        assert set(re.findall(r"\{(\w+)\}", messages[msgid])) == placeholders, msgid


def test_every_raised_reason_has_a_title_in_every_language() -> None:
    raised = {
        reason
        for path in PACKAGE.rglob("*.py")
        for reason in _RAISED.findall(path.read_text(encoding="utf-8"))
    }
    assert "INVALID_REGISTRATION" in raised
    assert sorted(raised - TITLES.keys()) == []
    for reason in raised:
        assert all(title(reason, language) for language in Language), reason
