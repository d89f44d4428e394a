"""The texts of persons' notifications: in each language, the mail's two parts say the same, the
HTML part escapes what the event brings, and the SMS stays short."""

from __future__ import annotations

import pytest

from guichet_kit.i18n import Language
from guichet_messaging.notifications import person_texts as texts
from guichet_messaging.notifications.compose import RequestReference, request_reference

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


FOLLOW = "https://guichet.example/procedures/follow?token=secret"


@pytest.mark.parametrize(
    ("language", "keep"),
    [
        (Language.FR, "ne le partagez pas"),
        (Language.DE, "geben Sie ihn nicht weiter"),
        (Language.EN, "do not share it"),
    ],
)
def test_the_acknowledgement_of_a_request_without_an_account_gives_its_personal_link(
    language: Language, keep: str
) -> None:
    composed = texts.anonymous_request_submitted("PR-1", FOLLOW, language)

    # The link once in each part, after the words saying to keep it to oneself.
    assert composed.mail.text.count(FOLLOW) == 1 and keep in composed.mail.text
    assert composed.mail.text.index(keep) < composed.mail.text.index(FOLLOW)
    assert composed.mail.html.count(f'href="{FOLLOW}"') == 1
    assert "PR-1" in composed.mail.subject


@pytest.mark.parametrize("language", list(Language))
def test_later_mails_of_a_request_without_an_account_have_no_link(language: Language) -> None:
    moved = texts.anonymous_request_status_changed("PR-1", "<Accepté>", "a & b", language)
    asked = texts.anonymous_correction_asked("PR-1", "Joignez le <verso>", language)

    for composed in (moved, asked):
        # Only the acknowledgement's link reaches such a request: these name it, link nothing.
        assert "http" not in composed.mail.text and "href" not in composed.mail.html
        assert "PR-1" in composed.mail.subject
    assert "&lt;Accepté&gt;" in moved.mail.html and "a &amp; b" in moved.mail.html
    assert "&lt;verso&gt;" in asked.mail.html


def test_a_correction_asked_without_an_account_says_whom_to_turn_to() -> None:
    asked = texts.anonymous_correction_asked("PR-1", "", Language.EN)

    assert "cannot be corrected online: contact the administration" in asked.mail.text


def test_a_request_reference_is_told_as_people_read_it() -> None:
    reference = RequestReference.generate()

    assert request_reference(reference.canonical) == reference.display
    assert request_reference(reference.display) == reference.display
    # Not a reference (an event of a newer procedures): told as it came.
    assert request_reference("PR-2026-0001") == "PR-2026-0001"
