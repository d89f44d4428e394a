"""News and practical information (F81): content files an operator edits, no code.

Each item is one TOML file in `web/content/news/` (its name, without `.toml`, is the item's id);
the categories and their names are in `web/content/categories.toml`. An item says what it is
(`kind`: news or practical), who may read it (`audience`: public, or private for signed-in people
only), its `category`, the date it is `published` from (Luxembourg time; a later date keeps it
hidden until then) and its `title` and `body` in fr, de and en (paragraphs separated by a blank
line, plain text: nothing in it is read as HTML)::

    kind = "news"
    audience = "public"
    category = "civil-status"
    published = 2025-03-03

    [fr]
    title = "…"
    body = \"\"\"…\"\"\"

    [de]
    …

The files are read and checked once, when the gateway starts: a malformed item stops it with the
file and the field at fault, rather than a page that shows half of it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache, partial
from pathlib import Path
from typing import Annotated, TypeVar

from babel.dates import format_date
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from guichet_gateway.web.pages import ENVIRONMENTS
from guichet_kit.i18n import LANGUAGES, LOCALES, LUXEMBOURG, Language

CONTENT_DIR = Path(__file__).resolve().parent / "content"
NEWS_DIR = CONTENT_DIR / "news"
CATEGORIES_FILE = CONTENT_DIR / "categories.toml"

# A category key or an item's file name, as in URLs: lower-case words joined by hyphens.
CategoryKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class NewsKind(StrEnum):
    NEWS = "news"
    PRACTICAL = "practical"


class Audience(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class NewsContentError(Exception):
    """A content file the gateway refuses to start with; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Text(_Strict):
    title: Title
    body: Body


class _Item(_Strict):
    # Strict elsewhere (a quoted date is refused), but an enum is written as its word.
    kind: Annotated[NewsKind, Field(strict=False)]
    audience: Annotated[Audience, Field(strict=False)]
    category: CategoryKey
    published: date
    fr: _Text
    de: _Text
    en: _Text


class _CategoryNames(_Strict):
    fr: Label
    de: Label
    en: Label


@dataclass(frozen=True)
class Category:
    key: str
    names: Mapping[Language, str]


@dataclass(frozen=True)
class NewsItem:
    id: str
    kind: NewsKind
    audience: Audience
    category: Category
    published: date
    titles: Mapping[Language, str]
    bodies: Mapping[Language, tuple[str, ...]]  # paragraphs

    def title(self, language: Language) -> str:
        return self.titles[language]

    def paragraphs(self, language: Language) -> tuple[str, ...]:
        return self.bodies[language]


@dataclass(frozen=True)
class News:
    """Every item, newest first; what a reader sees is chosen by `visible`."""

    items: tuple[NewsItem, ...]
    categories: Mapping[str, Category]

    def visible(self, *, signed_in: bool, today: date | None = None) -> list[NewsItem]:
        """Published items (today in Luxembourg or before); private ones to signed-in people."""
        today = today or datetime.now(LUXEMBOURG).date()
        return [
            item
            for item in self.items
            if item.published <= today and (signed_in or item.audience is Audience.PUBLIC)
        ]


_M = TypeVar("_M", bound=BaseModel)
_KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _where(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location) or "(file)"


def _read_toml(path: Path, root: Path) -> dict[str, object]:
    name = path.relative_to(root) if path.is_relative_to(root) else path
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise NewsContentError(f"{name}: not valid TOML: {error}") from error


def _validated(model: type[_M], data: object, name: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"field {_where(e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise NewsContentError(f"{name}: {problems}") from error


def _paragraphs(body: str) -> tuple[str, ...]:
    blocks = (" ".join(block.split()) for block in body.split("\n\n"))
    return tuple(block for block in blocks if block)


def load_news(content_dir: Path = CONTENT_DIR) -> News:
    """Read and check `categories.toml` and every `news/*.toml` under `content_dir`."""
    categories_file = content_dir / CATEGORIES_FILE.name
    if not categories_file.is_file():
        raise NewsContentError(f"{CATEGORIES_FILE.name}: missing in {content_dir}")
    categories: dict[str, Category] = {}
    for key, names in _read_toml(categories_file, content_dir).items():
        where = f"{CATEGORIES_FILE.name} [{key}]"
        if not _KEY.fullmatch(key):
            raise NewsContentError(f"{where}: a category key is lower-case words and hyphens")
        checked = _validated(_CategoryNames, names, where)
        categories[key] = Category(
            key, {language: getattr(checked, language) for language in LANGUAGES}
        )
    items = []
    for path in sorted((content_dir / NEWS_DIR.name).glob("*.toml")):
        name = str(path.relative_to(content_dir))
        if not _KEY.fullmatch(path.stem):
            raise NewsContentError(f"{name}: name the file with lower-case words and hyphens")
        item = _validated(_Item, _read_toml(path, content_dir), name)
        category = categories.get(item.category)
        if category is None:
            known = ", ".join(sorted(categories)) or "none"
            raise NewsContentError(
                f"{name}: field category: {item.category!r} is not in "
                f"{CATEGORIES_FILE.name} (known: {known})"
            )
        texts = {language: getattr(item, language) for language in LANGUAGES}
        items.append(
            NewsItem(
                id=path.stem,
                kind=item.kind,
                audience=item.audience,
                category=category,
                published=item.published,
                titles={language: text.title for language, text in texts.items()},
                bodies={language: _paragraphs(text.body) for language, text in texts.items()},
            )
        )
    items.sort(key=lambda item: (item.published, item.id), reverse=True)
    return News(tuple(items), categories)


@dataclass(frozen=True)
class NewsView:
    """An item as one reader sees it, in their language."""

    id: str
    kind: str
    audience: str
    category: str
    category_name: str
    published: date
    published_text: str  # the date in the language's words
    title: str
    paragraphs: tuple[str, ...]


def in_language(item: NewsItem, language: Language) -> NewsView:
    return NewsView(
        id=item.id,
        kind=item.kind.value,
        audience=item.audience.value,
        category=item.category.key,
        category_name=item.category.names[language],
        published=item.published,
        published_text=format_date(item.published, "long", locale=LOCALES[language]),
        title=item.title(language),
        paragraphs=item.paragraphs(language),
    )


# Read once, when the gateway starts: a malformed file stops it here, naming the file and field.
NEWS = load_news()


def news_for(language: Language, *, signed_in: bool) -> list[NewsView]:
    """What a reader sees now, newest first: public items, and private ones when signed in."""
    return list(_views(language, signed_in, datetime.now(LUXEMBOURG).date()))


@lru_cache(maxsize=64)
def _views(language: Language, signed_in: bool, today: date) -> tuple[NewsView, ...]:
    # The same for every reader of a day: rendered once, not on each dashboard and home page.
    return tuple(
        in_language(item, language) for item in NEWS.visible(signed_in=signed_in, today=today)
    )


def _install_on_pages() -> None:
    # The home page shows the public items: its templates reach them as `public_news()`, bound
    # to the page's language like their `_()`.
    for language, environment in ENVIRONMENTS.items():
        environment.globals["public_news"] = partial(news_for, language, signed_in=False)


_install_on_pages()
