"""What a notification says, in each language, without I/O."""

from __future__ import annotations

from datetime import timedelta

import pytest

from guichet_kit.i18n import Language
from guichet_messaging.notifications import compose
from guichet_messaging.notifications.service import Backoff

BASE = "https://guichet.example/"
ET = compose.TrackingNumber.generate()
D = ET.display


@pytest.mark.parametrize(
    ("language", "subject", "sms_start"),
    [
        (Language.FR, f"eTracking {D} : Reçu par l'administration", f"OpenGuichet : eTracking {D}"),
        (
            Language.DE,
            f"eTracking {D}: Bei der Verwaltung eingegangen",
            f"OpenGuichet: eTracking {D}",
        ),
        (
            Language.EN,
            f"eTracking {D}: Received by the administration",
            f"OpenGuichet: eTracking {D}",
        ),
    ],
)
def test_a_status_change_is_told_in_the_contacts_language(
    language: Language, subject: str, sms_start: str
) -> None:
    composed = compose.tracking_status_changed(ET, "received", "", language, BASE)
    assert composed.mail.subject == subject
    assert composed.sms.text.startswith(sms_start)
    # People read the display form; the link carries the canonical one.
    link = f"https://guichet.example/etracking/lookup?number={ET.canonical}&lang={language.value}"
    assert composed.sms.text.endswith(link)
    assert (
        link in composed.mail.text and f'href="{link.replace("&", "&amp;")}"' in composed.mail.html
    )


def test_the_two_parts_of_a_mail_say_the_same_and_html_is_escaped() -> None:
    mail = compose.tracking_status_changed(
        ET, "rejected", "Form <b>unsigned</b> & late", Language.EN, BASE
    ).mail
    assert "The administration adds: Form <b>unsigned</b> & late" in mail.text
    assert "The administration adds: Form &lt;b&gt;unsigned&lt;/b&gt; &amp; late" in mail.html
    assert "<b>" not in mail.html


def test_without_a_comment_there_is_no_comment_paragraph() -> None:
    mail = compose.tracking_status_changed(ET, "completed", "", Language.EN, BASE).mail
    assert "adds" not in mail.text


def test_a_status_without_words_is_refused() -> None:
    with pytest.raises(compose.UnknownStatus):
        compose.tracking_status_changed(ET, "teleported", "", Language.EN, BASE)


def test_every_status_has_words_in_every_language() -> None:
    for status in compose.STATUS_LABELS:
        for language in (Language.FR, Language.DE):
            text = compose.tracking_status_changed(ET, status, "", language, BASE)
            english = compose.tracking_status_changed(ET, status, "", Language.EN, BASE)
            assert text.mail.subject != english.mail.subject


@pytest.mark.parametrize(
    ("code", "language"), [("de", Language.DE), ("", Language.FR), ("xx", Language.FR)]
)
def test_the_contacts_language_defaults_to_french(code: str, language: Language) -> None:
    assert compose.language_of(code) is language


def test_retries_wait_twice_as_long_each_time_up_to_the_maximum() -> None:
    backoff = Backoff(base=5, max_delay=60, max_attempts=10)
    delays = [backoff.delay(n).total_seconds() for n in range(1, 7)]
    assert delays == [5, 10, 20, 40, 60, 60]
    assert backoff.delay(1) == timedelta(seconds=5)
