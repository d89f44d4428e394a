"""What a notification says, in the person's language: pure functions from an event's facts to
an e-mail (subject, plain text, HTML) and an SMS text. No I/O.

Each paragraph is one catalogue text; the plain-text and HTML parts are made from the same
paragraphs (escaped for HTML), so the two parts of a mail never say different things.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from guichet_kit.i18n import N_, Catalog, Language, Text, parse_language
from guichet_kit.references import InvalidReference, Reference

_ = Catalog("guichet_messaging")

# The statuses etracking publishes (TrackingStatus without its prefix, lower-cased).
STATUS_LABELS = {
    "awaiting_paper_form": N_("Waiting for your paper form"),
    "received": N_("Received by the administration"),
    "in_processing": N_("Being processed"),
    "awaiting_documents": N_("Waiting for additional documents"),
    "completed": N_("Processing completed"),
    "rejected": N_("Request rejected"),
    "withdrawn": N_("Withdrawn"),
}


class UnknownStatus(ValueError):
    """A status this service has no words for (an event of a newer etracking)."""


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Sms:
    text: str


@dataclass(frozen=True)
class Composed:
    mail: Mail
    sms: Sms


def language_of(code: str) -> Language:
    """The contact's language; an event without one (or with another) is told in French, the
    platform's default."""
    return parse_language(code) or Language.FR


class TrackingNumber(Reference):
    """eTracking's numbers (its events carry the canonical form; people read the display one)."""

    PREFIX = "ET"


class RequestReference(Reference):
    """procedures' request references, PR-XXXX-XXXX-C as on the proof (events carry PRXXXXXXXXC)."""

    PREFIX = "PR"


def request_reference(text: str) -> str:
    """The reference as the person reads it; a text that is no reference is told as it is
    (an event of a newer procedures is still told)."""
    try:
        return RequestReference.parse(text).display
    except InvalidReference:
        return text


def tracking_link(base_url: str, number: TrackingNumber, language: Language) -> str:
    query = urlencode({"number": number.canonical, "lang": language.value})
    return f"{base_url.rstrip('/')}/etracking/lookup?{query}"


def _mail(subject: Text, paragraphs: Sequence[Text], link: str, language: Language) -> Mail:
    rendered = [p.render(language) for p in paragraphs]
    greeting = _("Hello,").render(language)
    closing = _("This message was sent automatically; do not answer it.").render(language)
    signature = "OpenGuichet"
    # No link: a request filed without an account is reached only by the personal link of its
    # acknowledgement (its token is not stored in clear), so later mails point to that mail.
    text = "\n\n".join([greeting, *rendered, *([link] if link else []), closing, signature])
    text += "\n"
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in rendered)
    anchor = html.escape(link, quote=True)
    link_html = f'<p><a href="{anchor}">{anchor}</a></p>\n' if link else ""
    document = (
        f'<!DOCTYPE html>\n<html lang="{language.value}">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(subject.render(language))}</title></head>\n<body>\n"
        f"<p>{html.escape(greeting)}</p>\n{body}"
        f"{link_html}"
        f"<p><small>{html.escape(closing)}</small></p>\n<p>{signature}</p>\n</body>\n</html>\n"
    )
    return Mail(subject.render(language), text, document)


def tracking_created(
    tracking: TrackingNumber, paper_form_code: str, language: Language, base_url: str
) -> Composed:
    link = tracking_link(base_url, tracking, language)
    number = tracking.display
    mail = _mail(
        _("Your eTracking number {number}", number=number),
        [
            _(
                "Your paper form {form} is now followed under the eTracking number {number}.",
                form=paper_form_code,
                number=number,
            ),
            _(
                "Print the tracking sheet and join it to your paper form. We will tell you "
                "each time its status changes. Follow it here:"
            ),
        ],
        link,
        language,
    )
    sms = _(
        "OpenGuichet: your paper form {form} is followed under eTracking {number}. {link}",
        form=paper_form_code,
        number=number,
        link=link,
    )
    return Composed(mail, Sms(sms.render(language)))


def tracking_status_changed(
    tracking: TrackingNumber, status: str, comment: str, language: Language, base_url: str
) -> Composed:
    label_id = STATUS_LABELS.get(status)
    if label_id is None:
        raise UnknownStatus(status)
    label = _(label_id).render(language)
    link = tracking_link(base_url, tracking, language)
    number = tracking.display
    paragraphs = [
        _(
            "The status of your eTracking {number} changed: {status}.",
            number=number,
            status=label,
        )
    ]
    if comment:
        paragraphs.append(_("The administration adds: {comment}", comment=comment))
    paragraphs.append(_("See its whole history here:"))
    mail = _mail(
        _("eTracking {number}: {status}", number=number, status=label),
        paragraphs,
        link,
        language,
    )
    sms = _(
        "OpenGuichet: eTracking {number}: {status}. {link}", number=number, status=label, link=link
    )
    return Composed(mail, Sms(sms.render(language)))


# The one mail layout, for the texts of the other notifications (persons' requests and pieces).
mail_of = _mail
