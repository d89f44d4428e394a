"""The e-mail identity sends itself: the confirmation of a new login address, in the person's
language (translations in `guichet_identity/locale`)."""

from __future__ import annotations

from guichet_kit.i18n import DEFAULT_LANGUAGE, Catalog, Language, parse_language

_ = Catalog("guichet_identity")


def email_change_mail(language: str | None, email: str, link: str, hours: int) -> tuple[str, str]:
    """Subject and text of the confirmation mail; an unknown language falls back to French."""
    chosen: Language = parse_language(language) or DEFAULT_LANGUAGE
    subject = _("Confirm your new e-mail address")
    body = _(
        "Hello,\n\n"
        "You asked for {email} to become the sign-in address of your OpenGuichet account. "
        "To confirm, open this link within {hours} hours:\n\n{link}\n\n"
        "Until then your current address keeps working. If you did not ask for this, ignore "
        "this message.\n",
        email=email,
        link=link,
        hours=hours,
    )
    return subject.render(chosen), body.render(chosen)
