"""The texts of persons' notifications: in each language, the mail's two parts say the same, the
HTML part escapes what the event brings, and the SMS stays short."""

from __future__ import annotations

import pytest

from guichet_kit.i18n import Language
from guichet_messaging.notifications import person_texts as texts

LINK = "https://guichet.example/my/requests/1?lang=fr"


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        (Language.FR, "Demande PR-1 : <Accepté>"),
        (Language.DE, "Antrag PR-1: <Accepté>"),
        (Language.EN, "Request PR-1: <Accepté>"),
    ],
)
def test_a_status_change_in_each_language(language: Language, subject: str) -> None:
    composed = texts.request_status_changed("PR-1", "<Accepté>", "a & b", LINK, language)

    assert composed.mail.subject == subject
    assert "<Accepté>" in composed.mail.text and "a & b" in composed.mail.text
    assert "&lt;Accepté&gt;" in composed.mail.html and "a &amp; b" in composed.mail.html
    assert f'<html lang="{language.value}">' in composed.mail.html
    assert composed.sms.text.endswith(LINK)
    assert len(composed.sms.text) <= 160


def test_a_resubmission_says_so() -> None:
    first = texts.request_submitted("PR-1", False, LINK, Language.EN)
    again = texts.request_submitted("PR-1", True, LINK, Language.EN)

    assert first.mail.subject == "Your request PR-1 was sent"
    assert again.mail.subject == "Your corrected request PR-1 was sent"


def test_an_expiring_piece_and_draft_name_the_day() -> None:
    piece = texts.piece_expiring("Passeport", "3 mars 2027", LINK, Language.FR)
    draft = texts.draft_expiring("Allocation", "3. März 2027", LINK, Language.DE)

    assert piece.mail.subject == "Votre document « Passeport » expire le 3 mars 2027"
    assert draft.sms.text.startswith(
        "OpenGuichet: Ihr Entwurf „Allocation“ läuft am 3. März 2027 ab."
    )
