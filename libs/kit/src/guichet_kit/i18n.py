"""The three languages of every user-facing text: choosing one, and translating texts with Babel.

Each package that shows texts to people owns a message catalogue: `locale/<fr|de>/LC_MESSAGES/
messages.po` beside its code (English is the source language: the message ids are the English
texts). A module marks a text with the package's catalogue, `_ = Catalog("guichet_etracking")`,
then `_("No eTracking has the number {number}", number=n)`; the result is a `Text` that is rendered
in the caller's language when it leaves the service (errors) or is put on paper (mails, PDFs).
`make messages` extracts the ids and updates the .po files; a test fails when one lacks fr or de.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.messages.pofile import read_po


class Language(StrEnum):
    """A language of the platform; the value is the ISO 639-1 code (compares equal to it)."""

    FR = "fr"
    DE = "de"
    EN = "en"


LANGUAGES: tuple[Language, ...] = (Language.FR, Language.DE, Language.EN)
DEFAULT_LANGUAGE = Language.FR
# The languages with a .po file; English is the message ids themselves.
TRANSLATED: tuple[Language, ...] = (Language.FR, Language.DE)


def parse_language(text: str | None) -> Language | None:
    """The language named by `text` ("fr", "DE", "en-GB" …), or None when it is none of ours."""
    primary = (text or "").strip().split("-")[0].split("_")[0].lower()
    try:
        return Language(primary)
    except ValueError:
        return None


def pick_language(accept_language: str | None, explicit: str | None = None) -> Language:
    """An explicit choice wins, then the best-weighted supported tag of Accept-Language."""
    if explicit in LANGUAGES:
        return Language(explicit)
    best: tuple[float, Language] | None = None
    for position, part in enumerate((accept_language or "").split(",")[:32]):
        tag, _separator, params = part.strip().partition(";")
        language = parse_language(tag)
        if language is None:
            continue
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        # Earlier tags win ties, as browsers list them in order of preference.
        score = weight - position * 1e-6
        if best is None or score > best[0]:
            best = (score, language)
    return best[1] if best else DEFAULT_LANGUAGE


# The language of the person the current call serves (set from the request by the gateway, from
# gRPC metadata by the kit's interceptor); texts leaving the service are rendered in it.
_language: ContextVar[Language] = ContextVar("language", default=DEFAULT_LANGUAGE)
LANGUAGE_METADATA_KEY = "x-language"


def set_language(language: Language) -> None:
    _language.set(language)


def current_language() -> Language:
    return _language.get()


@contextmanager
def speaking(language: Language) -> Iterator[None]:
    token = _language.set(language)
    try:
        yield
    finally:
        _language.reset(token)


class Catalog:
    """A package's message catalogue, read once from its .po files (no compiled .mo to go stale)."""

    def __init__(self, package: str) -> None:
        self.package = package
        self._messages: dict[Language, dict[str, str]] | None = None

    def __call__(self, msgid: str, /, **params: Any) -> Text:
        return Text(msgid, params, self)

    def messages(self, language: Language) -> Mapping[str, str]:
        if self._messages is None:
            self._messages = {language: self._read(language) for language in TRANSLATED}
        return self._messages.get(language, {})

    def _read(self, language: Language) -> dict[str, str]:
        path = resources.files(self.package) / "locale" / language.value / "LC_MESSAGES"
        po = path / "messages.po"
        if not po.is_file():
            return {}
        with po.open("rb") as stream:
            catalog = read_po(stream, locale=language.value)
        return {
            str(message.id): str(message.string)
            for message in catalog
            if message.id and message.string and not message.fuzzy
        }

    def gettext(self, msgid: str, language: Language) -> str:
        if language == Language.EN:
            return msgid
        return self.messages(language).get(msgid, msgid)


@dataclass(frozen=True)
class Text:
    """A text to show a person: an English message id, its parameters and its catalogue."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)
    catalog: Catalog | None = None

    def render(self, language: Language | None = None) -> str:
        language = language or current_language()
        template = self.catalog.gettext(self.msgid, language) if self.catalog else self.msgid
        return template.format(**self.params) if self.params else template

    def __str__(self) -> str:
        return self.render(Language.EN)


def render(text: Text | str, language: Language | None = None) -> str:
    return text.render(language) if isinstance(text, Text) else text


LUXEMBOURG = ZoneInfo("Europe/Luxembourg")
# Babel locales for dates and numbers: the platform's languages as written in Luxembourg.
LOCALES: Mapping[Language, str] = {
    Language.FR: "fr_LU",
    Language.DE: "de_LU",
    Language.EN: "en_GB",
}
_ = Catalog("guichet_kit")


def format_moment(moment: datetime, language: Language) -> str:
    """An aware instant as read in Luxembourg, in the language's words: "3 March 2025 at 14:05"."""
    if moment.tzinfo is None:
        raise ValueError("a moment must be timezone-aware (times are stored in UTC)")
    local = moment.astimezone(LUXEMBOURG)
    locale = LOCALES[language]
    return _(
        "{date} at {time}",
        date=format_date(local, "long", locale=locale),
        time=format_time(local, "HH:mm", locale=locale),
    ).render(language)


def N_(msgid: str) -> str:
    """Marks a text for extraction where it is translated later (e.g. a table of titles)."""
    return msgid
