import pytest

from guichet_kit.i18n import pick_language


@pytest.mark.parametrize(
    ("header", "explicit", "expected"),
    [
        (None, None, "fr"),
        ("", None, "fr"),
        ("de-LU,de;q=0.9,en;q=0.8", None, "de"),
        ("en-GB;q=0.5,fr;q=0.9", None, "fr"),
        ("lb-LU,pt;q=0.9", None, "fr"),
        ("de", "en", "en"),
        ("de", "xx", "de"),
        ("en;q=abc,de;q=0.1", None, "de"),
    ],
)
def test_language_is_the_explicit_one_else_the_best_weighted_supported_one(
    header: str | None, explicit: str | None, expected: str
) -> None:
    assert pick_language(header, explicit) == expected
