"""What the header alone refuses, before any byte is read (no server is reached)."""

from __future__ import annotations

import pytest

from guichet_kit.domain import InvalidInput
from guichet_wallet.files.pipeline import FilePipeline, FileSpec

DOCUMENTS = frozenset({"application/pdf", "image/jpeg", "image/png"})


@pytest.fixture
def pipeline() -> FilePipeline:
    # Nothing is connected until a file is taken: the addresses are never reached here.
    return FilePipeline("127.0.0.1:1", "key", "secret", False, "wallet-unit", "127.0.0.1:1")


def spec(**changes: object) -> FileSpec:
    fields: dict[str, object] = {
        "file_name": "facture.pdf",
        "declared_type": "application/pdf",
        "declared_size": 0,
        "allowed_types": DOCUMENTS,
        "max_size": 20_000_000,
    }
    fields.update(changes)
    return FileSpec(**fields)  # type: ignore[arg-type]


def test_a_fair_header_passes(pipeline: FilePipeline) -> None:
    pipeline.check(spec())
    pipeline.check(spec(declared_size=20_000_000, declared_type="image/jpg"))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"declared_size": 20_000_001}, "FILE_TOO_LARGE"),
        ({"declared_type": "application/zip"}, "FILE_TYPE_NOT_ALLOWED"),
        ({"declared_type": ""}, "FILE_TYPE_NOT_ALLOWED"),
        ({"file_name": "../facture.pdf"}, "INVALID_FILE_NAME"),
        ({"file_name": "facture\u202efdp.exe"}, "INVALID_FILE_NAME"),
    ],
)
def test_a_wrong_header_is_refused(
    pipeline: FilePipeline, changes: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        pipeline.check(spec(**changes))
    assert refused.value.reason == reason


def test_the_size_limit_is_said_in_megabytes(pipeline: FilePipeline) -> None:
    with pytest.raises(InvalidInput) as refused:
        pipeline.check(spec(declared_size=30_000_000))
    assert str(refused.value.message) == "The file is too large: at most 20 MB"


def test_a_bucket_prefix_must_make_valid_bucket_names() -> None:
    for prefix in ("Wallet", "wallet_files", "w", "-wallet", "x" * 47):
        with pytest.raises(ValueError, match="bucket prefix"):
            FilePipeline("127.0.0.1:1", "key", "secret", False, prefix, "127.0.0.1:1")
