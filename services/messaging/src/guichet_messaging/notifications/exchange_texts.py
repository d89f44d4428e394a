"""What a notification says about a person's exchanges and eDocuments (F61, F63, F65), in their
language: pure functions from an event's facts to an e-mail (plain text and HTML) and an SMS,
on `compose`'s mail layout so they read like every other notification."""

from __future__ import annotations

from guichet_kit.i18n import Catalog, Language, Text
from guichet_messaging.notifications.compose import Composed, Sms, mail_of

_ = Catalog("guichet_messaging")


def administration_name(code: str) -> str:
    """How an administration is named to people: its code in capitals (there is no shared list
    of administrations' names yet; the wallet shows an eDocument's sender the same way)."""
    return code.upper()


def _composed(
    subject: Text, paragraphs: list[Text], link: str, sms: Text, lang: Language
) -> Composed:
    return Composed(mail_of(subject, paragraphs, link, lang), Sms(sms.render(lang)))


def message_sent(title: str, administration: str, link: str, lang: Language) -> Composed:
    """The acknowledgement of a message the person wrote (F61)."""
    return _composed(
        _("Your message “{title}” was sent", title=title),
        [
            _(
                "Your message “{title}” was sent to {administration}.",
                title=title,
                administration=administration,
            ),
            _("We will tell you when the administration answers. Follow the conversation here:"),
        ],
        link,
        _(
            "OpenGuichet: your message “{title}” was sent to {administration}. {link}",
            title=title,
            administration=administration,
            link=link,
        ),
        lang,
    )


def document_sent(
    title: str, administration: str, reference: str, link: str, lang: Language
) -> Composed:
    """The acknowledgement of a document the person deposited (F66), with its reference."""
    return _composed(
        _(
            "Your document “{title}” was sent: reference {reference}",
            title=title,
            reference=reference,
        ),
        [
            _(
                "Your document “{title}” was sent to {administration} under the reference "
                "{reference}.",
                title=title,
                administration=administration,
                reference=reference,
            ),
            _("Give this reference if you contact the administration about it. See it here:"),
        ],
        link,
        _(
            "OpenGuichet: your document “{title}” was sent to {administration}, reference "
            "{reference}. {link}",
            title=title,
            administration=administration,
            reference=reference,
            link=link,
        ),
        lang,
    )


def message_answered(title: str, administration: str, link: str, lang: Language) -> Composed:
    """An administration answered the person's conversation (F61, F65)."""
    return _composed(
        _(
            "{administration} answered your message “{title}”",
            administration=administration,
            title=title,
        ),
        [
            _(
                "{administration} answered your message “{title}”.",
                administration=administration,
                title=title,
            ),
            _("For your privacy the answer is not in this e-mail. Read it here:"),
        ],
        link,
        _(
            "OpenGuichet: {administration} answered your message “{title}”. {link}",
            administration=administration,
            title=title,
            link=link,
        ),
        lang,
    )


def edocument_delivered(title: str, administration: str, link: str, lang: Language) -> Composed:
    """An administration's eDocument arrived in the person's wallet (F63, F44)."""
    return _composed(
        _(
            "A document from {administration} arrived: “{title}”",
            administration=administration,
            title=title,
        ),
        [
            _(
                "{administration} sent you the document “{title}”. It is in your wallet.",
                administration=administration,
                title=title,
            ),
            _("Open it here:"),
        ],
        link,
        _(
            "OpenGuichet: {administration} sent you the document “{title}”. {link}",
            administration=administration,
            title=title,
            link=link,
        ),
        lang,
    )
