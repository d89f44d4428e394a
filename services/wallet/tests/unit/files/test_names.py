"""File names: refused when they could mislead or escape, otherwise shown as NFC, trimmed."""

from __future__ import annotations

import pytest

from guichet_kit.domain import InvalidInput
from guichet_wallet.files.names import display_name


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("facture.pdf", "facture.pdf"),
        ("  Relevé bancaire.pdf \u00a0", "Relevé bancaire.pdf"),
        ("Rele\u0301ve\u0301.pdf", "Rel\u00e9v\u00e9.pdf"),  # decomposed accents come out composed
        ("carte d'identité (recto).jpg", "carte d'identité (recto).jpg"),
        ("...pdf", "...pdf"),
        ("a" * 255, "a" * 255),
        ("日本語の書類.pdf", "日本語の書類.pdf"),
    ],
)
def test_a_fair_name_is_shown_normalised(sent: str, shown: str) -> None:
    assert display_name(sent) == shown


@pytest.mark.parametrize(
    ("sent", "says"),
    [
        ("../../etc/passwd", "without a folder"),
        ("..", "without a folder"),
        (".", "without a folder"),
        ("docs/facture.pdf", "without a folder"),
        ("C:\\Users\\anne\\facture.pdf", "without a folder"),
        ("/etc/passwd", "without a folder"),
        ("facture\0.pdf", "control character"),
        ("facture.pdf\0.exe", "control character"),
        ("line\nbreak.pdf", "control character"),
        ("bell\x07.pdf", "control character"),
        ("tab\t.pdf", "control character"),
        ("del\x7f.pdf", "control character"),
        ("c1\x85.pdf", "control character"),
        ("para\u2029graph.pdf", "control character"),
        ("invoice\u202efdp.exe", "direction"),
        ("rtl\u202b.pdf", "direction"),
        ("isolate\u2067.pdf", "direction"),
        ("mark\u200f.pdf", "direction"),
        ("", "empty"),
        ("   ", "empty"),
        ("a" * 256, "too long"),
        ("a" * 1000 + ".pdf", "too long"),
    ],
)
def test_a_misleading_name_is_refused_with_what_is_wrong(sent: str, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        display_name(sent)
    assert refused.value.reason == "INVALID_FILE_NAME"
    assert says in str(refused.value.message)
    assert refused.value.fields[0].field == "file_name"


def test_the_length_is_counted_after_normalisation() -> None:
    # 255 composed characters sent decomposed (510 code points) are 255 to show.
    assert display_name("e\u0301" * 255) == "é" * 255
