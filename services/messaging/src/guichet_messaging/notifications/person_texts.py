"""What a notification to a person says about their requests and wallet pieces (F65), in their
language: pure functions from an event's facts to an e-mail (plain text and HTML) and a short SMS.
Built on `compose`'s mail layout so every notification reads alike."""

from __future__ import annotations

from urllib.parse import urlencode

from guichet_kit.i18n import N_, Catalog, Language, Text
from guichet_messaging.notifications.compose import Composed, Sms, mail_of

_ = Catalog("guichet_messaging")


def page_link(base_url: str, path: str, language: Language) -> str:
    return f"{base_url.rstrip('/')}{path}?{urlencode({'lang': language.value})}"


def _composed(
    subject: Text, paragraphs: list[Text], link: str, sms: Text, lang: Language
) -> Composed:
    return Composed(mail_of(subject, paragraphs, link, lang), Sms(sms.render(lang)))


def request_submitted(reference: str, resubmitted: bool, link: str, lang: Language) -> Composed:
    if resubmitted:
        subject = _("Your corrected request {reference} was sent", reference=reference)
        first = _(
            "Your corrected request {reference} was sent to the administration again.",
            reference=reference,
        )
        sms = _(
            "OpenGuichet: your corrected request {reference} was sent. {link}",
            reference=reference,
            link=link,
        )
    else:
        subject = _("Your request {reference} was sent", reference=reference)
        first = _("Your request {reference} was sent to the administration.", reference=reference)
        sms = _(
            "OpenGuichet: your request {reference} was sent. {link}", reference=reference, link=link
        )
    follow = _("We will tell you when its status changes. Follow it here:")
    return _composed(subject, [first, follow], link, sms, lang)


def anonymous_request_submitted(reference: str, link: str, lang: Language) -> Composed:
    """The acknowledgement of a request sent without an account: its personal link is the only
    way back to it, so the mail says to keep it (and how to claim the request later)."""
    return _composed(
        _("Your request {reference} was sent", reference=reference),
        [
            _("Your request {reference} was sent to the administration.", reference=reference),
            _(
                "With an account, you can also add the request to your personal space with its "
                "reference and a code sent to this address."
            ),
            _(
                "Follow it, download its proof of deposit or cancel it with this personal link "
                "(keep it, and do not share it):"
            ),
        ],
        link,
        _("OpenGuichet: your request {reference} was sent. {link}", reference=reference, link=link),
        lang,
    )


# Later mails of a request sent without an account have no link: only the acknowledgement's
# personal link reaches it (its token is not kept in clear).
_SEE_WITH_PERSONAL_LINK = N_(
    "See it with the personal link of the e-mail that acknowledged your request."
)


def anonymous_request_status_changed(
    reference: str, status: str, comment: str, lang: Language
) -> Composed:
    paragraphs = [
        _(
            "The status of your request {reference} changed: {status}.",
            reference=reference,
            status=status,
        )
    ]
    if comment:
        paragraphs.append(_("The administration adds: {comment}", comment=comment))
    paragraphs.append(_(_SEE_WITH_PERSONAL_LINK))
    return _composed(
        _("Request {reference}: {status}", reference=reference, status=status),
        paragraphs,
        "",
        _("OpenGuichet: request {reference}: {status}.", reference=reference, status=status),
        lang,
    )


def anonymous_correction_asked(reference: str, message: str, lang: Language) -> Composed:
    paragraphs = [
        _("The administration asks you to correct your request {reference}.", reference=reference)
    ]
    if message:
        paragraphs.append(_("The administration adds: {comment}", comment=message))
    paragraphs.append(
        _(
            "A request sent without an account cannot be corrected online: contact the "
            "administration, giving this reference."
        )
    )
    paragraphs.append(_(_SEE_WITH_PERSONAL_LINK))
    return _composed(
        _("Request {reference}: a correction is asked", reference=reference),
        paragraphs,
        "",
        _(
            "OpenGuichet: a correction of your request {reference} is asked.",
            reference=reference,
        ),
        lang,
    )


def request_status_changed(
    reference: str, status: str, comment: str, link: str, lang: Language
) -> Composed:
    paragraphs = [
        _(
            "The status of your request {reference} changed: {status}.",
            reference=reference,
            status=status,
        )
    ]
    if comment:
        paragraphs.append(_("The administration adds: {comment}", comment=comment))
    paragraphs.append(_("See your request here:"))
    return _composed(
        _("Request {reference}: {status}", reference=reference, status=status),
        paragraphs,
        link,
        _(
            "OpenGuichet: request {reference}: {status}. {link}",
            reference=reference,
            status=status,
            link=link,
        ),
        lang,
    )


def correction_asked(reference: str, message: str, link: str, lang: Language) -> Composed:
    paragraphs = [
        _("The administration asks you to correct your request {reference}.", reference=reference)
    ]
    if message:
        paragraphs.append(_("The administration adds: {comment}", comment=message))
    paragraphs.append(_("Correct and send it again here:"))
    return _composed(
        _("Request {reference}: a correction is asked", reference=reference),
        paragraphs,
        link,
        _(
            "OpenGuichet: a correction of your request {reference} is asked. {link}",
            reference=reference,
            link=link,
        ),
        lang,
    )


def request_cancelled(reference: str, link: str, lang: Language) -> Composed:
    return _composed(
        _("Your request {reference} was cancelled", reference=reference),
        [
            _(
                "Your request {reference} was cancelled; the administration was told.",
                reference=reference,
            ),
            _("See your request here:"),
        ],
        link,
        _(
            "OpenGuichet: your request {reference} was cancelled. {link}",
            reference=reference,
            link=link,
        ),
        lang,
    )


def draft_expiring(title: str, day: str, link: str, lang: Language) -> Composed:
    return _composed(
        _("Your draft “{title}” expires on {day}", title=title, day=day),
        [
            _(
                "Your draft “{title}” will be deleted on {day} unless you send it before.",
                title=title,
                day=day,
            ),
            _("Continue it here:"),
        ],
        link,
        _(
            "OpenGuichet: your draft “{title}” expires on {day}. {link}",
            title=title,
            day=day,
            link=link,
        ),
        lang,
    )


def piece_expiring(title: str, day: str, link: str, lang: Language) -> Composed:
    return _composed(
        _("Your document “{title}” expires on {day}", title=title, day=day),
        [
            _(
                "Your document “{title}” in your wallet expires on {day}.",
                title=title,
                day=day,
            ),
            _("Renew it in time; see it here:"),
        ],
        link,
        _(
            "OpenGuichet: your document “{title}” expires on {day}. {link}",
            title=title,
            day=day,
            link=link,
        ),
        lang,
    )
