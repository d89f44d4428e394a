"""The e-mail change confirmation mail, in each language."""

from __future__ import annotations

import pytest

from guichet_identity.account.mail_texts import email_change_mail

LINK = "http://127.0.0.1:8000/account/confirm-email?token=abc"


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("fr", "Confirmez votre nouvelle adresse électronique"),
        ("de", "Bestätigen Sie Ihre neue E-Mail-Adresse"),
        ("en", "Confirm your new e-mail address"),
        (None, "Confirmez votre nouvelle adresse électronique"),
        ("it", "Confirmez votre nouvelle adresse électronique"),
    ],
)
def test_mail_is_in_the_language_with_the_link_and_the_validity(
    language: str | None, subject: str
) -> None:
    mail_subject, text = email_change_mail(language, "lea@example.org", LINK, 24)
    assert mail_subject == subject
    assert LINK in text
    assert "lea@example.org" in text
    assert "24" in text
