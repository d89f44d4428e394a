"""The e-mail identity sends itself: the confirmation of a new login address, in fr, de or en."""

from __future__ import annotations

from guichet_kit.i18n import DEFAULT_LANGUAGE, LANGUAGES, Language

_SUBJECTS: dict[Language, str] = {
    "fr": "Confirmez votre nouvelle adresse électronique",
    "de": "Bestätigen Sie Ihre neue E-Mail-Adresse",
    "en": "Confirm your new e-mail address",
}
_BODIES: dict[Language, str] = {
    "fr": (
        "Bonjour,\n\n"
        "Vous avez demandé que {email} devienne l'adresse de connexion de votre compte "
        "OpenGuichet. Pour confirmer, ouvrez ce lien dans les {hours} heures :\n\n{link}\n\n"
        "Jusque-là, votre adresse actuelle reste valable. Si vous n'êtes pas à l'origine de "
        "cette demande, ignorez ce message.\n"
    ),
    "de": (
        "Guten Tag,\n\n"
        "Sie haben beantragt, dass {email} die Anmeldeadresse Ihres OpenGuichet-Kontos wird. "
        "Zur Bestätigung öffnen Sie innerhalb von {hours} Stunden diesen Link:\n\n{link}\n\n"
        "Bis dahin bleibt Ihre bisherige Adresse gültig. Wenn Sie dies nicht beantragt haben, "
        "ignorieren Sie diese Nachricht.\n"
    ),
    "en": (
        "Hello,\n\n"
        "You asked for {email} to become the sign-in address of your OpenGuichet account. "
        "To confirm, open this link within {hours} hours:\n\n{link}\n\n"
        "Until then your current address keeps working. If you did not ask for this, ignore "
        "this message.\n"
    ),
}


def email_change_mail(language: str | None, email: str, link: str, hours: int) -> tuple[str, str]:
    """Subject and text of the confirmation mail; an unknown language falls back to French."""
    chosen: Language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return _SUBJECTS[chosen], _BODIES[chosen].format(email=email, link=link, hours=hours)
