"""News and practical information: the shipped content loads, a malformed file is named with its
field, and a reader sees only what is published for them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from guichet_gateway.web.news import NEWS, Audience, NewsContentError, NewsKind, load_news
from guichet_kit.i18n import LANGUAGES

CATEGORIES = """
[family]
fr = "Famille"
de = "Familie"
en = "Family"
"""


def item(
    *,
    kind: str = '"news"',
    audience: str = '"public"',
    category: str = '"family"',
    published: str = "2026-03-02",
    de_title: str = 'title = "Titel"',
    extra: str = "",
) -> str:
    return f"""
kind = {kind}
audience = {audience}
category = {category}
published = {published}
{extra}
[fr]
title = "Titre"
body = "Premier paragraphe.\\n\\nSecond   paragraphe."
[de]
{de_title}
body = "Text."
[en]
title = "Title"
body = "Text."
"""


def content(tmp_path: Path, files: dict[str, str], categories: str = CATEGORIES) -> Path:
    (tmp_path / "news").mkdir(parents=True)
    (tmp_path / "categories.toml").write_text(categories, encoding="utf-8")
    for name, text in files.items():
        (tmp_path / "news" / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_content_has_public_and_private_news_and_practical_information() -> None:
    assert 5 <= len(NEWS.items) <= 8
    kinds = {(i.kind, i.audience) for i in NEWS.items}
    assert (NewsKind.NEWS, Audience.PUBLIC) in kinds
    assert (NewsKind.NEWS, Audience.PRIVATE) in kinds
    assert {i.kind for i in NEWS.items if i.audience is Audience.PUBLIC} == set(NewsKind)
    for news_item in NEWS.items:
        for language in LANGUAGES:
            assert news_item.title(language) and news_item.paragraphs(language)
        # Translated, not copied: the three titles differ.
        assert len({news_item.title(language) for language in LANGUAGES}) == 3


def test_an_item_is_read_with_its_paragraphs_and_its_category_names(tmp_path: Path) -> None:
    news = load_news(content(tmp_path, {"spring-fair.toml": item()}))
    (read,) = news.items
    assert read.id == "spring-fair"
    assert read.published == date(2026, 3, 2)
    assert read.paragraphs("fr") == ("Premier paragraphe.", "Second paragraphe.")
    assert read.category.names["de"] == "Familie"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (item(de_title=""), "field de.title: Field required"),
        (item(de_title='title = "   "'), "field de.title: String should have at least 1"),
        (item(kind='"announcement"'), "field kind: Input should be 'news' or 'practical'"),
        (item(audience='"everyone"'), "field audience: Input should be 'public' or 'private'"),
        (item(published='"2026-03-02"'), "field published: Input should be a valid date"),
        (item(extra='summary = "x"'), "field summary: Extra inputs are not permitted"),
        (item(category='"sports"'), "field category: 'sports' is not in categories.toml"),
        ('kind = "news"\n[fr\n', "not valid TOML"),
    ],
)
def test_a_malformed_item_stops_the_start_naming_its_file_and_field(
    tmp_path: Path, text: str, named: str
) -> None:
    folder = content(tmp_path, {"good.toml": item(), "broken-item.toml": text})
    with pytest.raises(NewsContentError) as refused:
        load_news(folder)
    assert str(refused.value).startswith("news/broken-item.toml: ")
    assert named in str(refused.value)


def test_a_category_without_a_language_or_a_badly_named_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NewsContentError, match=r"categories.toml \[family\]: field en: Field"):
        load_news(content(tmp_path, {}, categories='[family]\nfr = "F"\nde = "F"\n'))
    with pytest.raises(NewsContentError, match=r"Spring Fair\.toml: name the file"):
        load_news(content(tmp_path / "other", {"Spring Fair.toml": item()}))


def test_a_reader_sees_published_items_newest_first_and_private_ones_only_signed_in(
    tmp_path: Path,
) -> None:
    folder = content(
        tmp_path,
        {
            "old-public.toml": item(published="2026-01-10"),
            "new-private.toml": item(audience='"private"', published="2026-02-10"),
            "future-public.toml": item(published="2026-05-01"),
        },
    )
    news = load_news(folder)
    today = date(2026, 3, 1)
    assert [i.id for i in news.visible(signed_in=False, today=today)] == ["old-public"]
    assert [i.id for i in news.visible(signed_in=True, today=today)] == [
        "new-private",
        "old-public",
    ]
    later = date(2026, 5, 1)
    assert news.visible(signed_in=False, today=later)[0].id == "future-public"
