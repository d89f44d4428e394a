"""The texts of exchanges' and eDocuments' notifications: each language, the mail's two parts
from the same paragraphs with what the event brings escaped in HTML, and an SMS that ends with
its link."""

from __future__ import annotations

import pytest

from guichet_kit.i18n import Language
from guichet_messaging.notifications import exchange_texts as texts

LINK = "https://guichet.example/my/messages/1?lang=fr"


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        (Language.FR, "CCSS a répondu à votre message « <Avis> & co »"),
        (Language.DE, "CCSS hat auf Ihre Nachricht „<Avis> & co“ geantwortet"),
        (Language.EN, "CCSS answered your message “<Avis> & co”"),
    ],
)
def test_an_answer_in_each_language_names_the_subject_line_and_not_the_answer(
    language: Language, subject: str
) -> None:
    composed = texts.message_answered("<Avis> & co", "CCSS", LINK, language)

    assert composed.mail.subject == subject
    assert "<Avis> & co" in composed.mail.text
    assert "&lt;Avis&gt; &amp; co" in composed.mail.html and "<Avis>" not in composed.mail.html
    assert f'<html lang="{language.value}">' in composed.mail.html
    assert LINK in composed.mail.text
    assert composed.sms.text.endswith(LINK)


def test_an_acknowledgement_a_deposit_and_an_edocument_say_what_arrived_where() -> None:
    message = texts.message_sent("Mon avis", "ACD", LINK, Language.FR)
    deposit = texts.document_sent("Certificat", "ACD", "DOC-7K2M-9QXP", LINK, Language.DE)
    arrived = texts.edocument_delivered("Bulletin", "ACD", LINK, Language.EN)

    assert message.mail.subject == "Votre message « Mon avis » a été envoyé"
    assert "Votre message « Mon avis » a été envoyé à ACD." in message.mail.text
    assert (
        deposit.mail.subject == "Ihr Dokument „Certificat“ wurde gesendet: Referenz DOC-7K2M-9QXP"
    )
    assert deposit.sms.text.startswith(
        "OpenGuichet: Ihr Dokument „Certificat“ wurde an ACD gesendet, Referenz DOC-7K2M-9QXP."
    )
    assert arrived.mail.subject == "A document from ACD arrived: “Bulletin”"
    assert "ACD sent you the document “Bulletin”. It is in your wallet." in arrived.mail.text


def test_an_administration_is_named_by_its_code_in_capitals() -> None:
    assert texts.administration_name("ccss") == "CCSS"
