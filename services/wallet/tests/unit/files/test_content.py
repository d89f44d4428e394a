"""The type found in the bytes against the declared and allowed ones; ZIP records hidden in a
file that is not a ZIP, found wherever the chunks are cut."""

from __future__ import annotations

import random

import pytest

from guichet_kit.domain import InvalidInput
from guichet_wallet.files.content import (
    ZipRecordFinder,
    check_declared_type,
    check_found_type,
    normalise_type,
    sniff,
)

from . import samples

DOCUMENTS = frozenset({"application/pdf", "image/jpeg", "image/png"})
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (samples.pdf(), "application/pdf"),
        (samples.png(), "image/png"),
        (samples.jpeg(), "image/jpeg"),
        (samples.docx(), DOCX),
        (samples.zip_of({"a.txt": b"a"}), "application/zip"),
        (samples.elf(), "application/x-sharedlib"),
        (samples.polyglot(), "application/pdf"),  # why the polyglot check exists
    ],
)
def test_libmagic_names_the_type_from_the_first_bytes(data: bytes, found: str) -> None:
    assert sniff(data[:65536]) == found


@pytest.mark.parametrize(
    ("declared", "normal"),
    [
        ("application/pdf", "application/pdf"),
        ("Application/PDF; charset=binary", "application/pdf"),
        ("image/jpg", "image/jpeg"),
        ("image/pjpeg", "image/jpeg"),
        ("application/x-zip-compressed", "application/zip"),
    ],
)
def test_declared_types_are_compared_under_libmagic_names(declared: str, normal: str) -> None:
    assert normalise_type(declared) == normal


def test_a_declared_type_must_be_allowed() -> None:
    check_declared_type("image/jpg", DOCUMENTS)
    with pytest.raises(InvalidInput) as refused:
        check_declared_type("application/zip", DOCUMENTS)
    assert refused.value.reason == "FILE_TYPE_NOT_ALLOWED"
    assert "application/pdf, image/jpeg, image/png" in str(refused.value.message)


@pytest.mark.parametrize(
    ("found", "declared", "reason"),
    [
        ("image/png", "application/pdf", "FILE_TYPE_MISMATCH"),  # a PNG declared as a PDF
        ("application/x-sharedlib", "application/pdf", "FILE_TYPE_MISMATCH"),
        ("application/vnd.microsoft.portable-executable", "application/pdf", "FILE_TYPE_MISMATCH"),
        ("text/html", "image/png", "FILE_TYPE_MISMATCH"),
        ("application/gzip", "application/gzip", "FILE_TYPE_NOT_ALLOWED"),  # cannot be checked
        ("application/zip", "application/zip", "FILE_TYPE_NOT_ALLOWED"),  # not in this use
    ],
)
def test_the_found_type_must_be_the_declared_allowed_one(
    found: str, declared: str, reason: str
) -> None:
    allowed = DOCUMENTS | {"application/gzip"}
    with pytest.raises(InvalidInput) as refused:
        check_found_type(found, declared, allowed)
    assert refused.value.reason == reason


def test_the_found_type_matches_an_alias_of_the_declared_one() -> None:
    check_found_type("image/jpeg", "image/jpg", DOCUMENTS)


def records_found(data: bytes, cuts: list[int]) -> bool:
    finder = ZipRecordFinder()
    start = 0
    for cut in [*cuts, len(data)]:
        finder.feed(data[start:cut])
        start = cut
    return finder.finish()


def test_a_zip_appended_to_a_pdf_is_found_wherever_the_chunks_are_cut() -> None:
    data = samples.polyglot()
    archive_at = data.index(b"PK\x03\x04")
    for cut in range(archive_at - 50, len(data)):
        assert records_found(data, [cut]), cut
    # Chunks of one byte: every record straddles chunks.
    assert records_found(data, list(range(1, len(data))))


@pytest.mark.parametrize("record", [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"])
def test_each_kind_of_zip_record_alone_is_found(record: bytes) -> None:
    archive = samples.zip_of({"payload.txt": b"x"})
    at = archive.index(record)
    length = {b"PK\x03\x04": 30 + 11, b"PK\x01\x02": 46 + 11, b"PK\x05\x06": 22}[record]
    data = samples.pdf() + archive[at : at + length] + samples.pdf()
    assert records_found(data, [len(data) // 2])


def test_an_end_record_closing_the_file_is_found() -> None:
    data = samples.pdf() + samples.zip_of({})  # an empty archive is its end record alone
    assert data.endswith(b"\0\0") and b"PK\x05\x06" in data[-22:]
    assert records_found(data, [len(data) - 10])


def test_documents_without_an_archive_have_no_zip_record() -> None:
    for data in (samples.pdf(100_000), samples.png(64, 64), samples.jpeg()):
        assert not records_found(data, [len(data) // 3])


def test_signatures_that_turn_up_by_chance_are_not_records() -> None:
    # Compressed data holds the 4 signature bytes now and then; the fields after them decide.
    noise = random.Random(8)
    data = bytearray(noise.randbytes(200_000))
    for _ in range(300):
        at = noise.randrange(len(data) - 50)
        data[at : at + 4] = noise.choice([b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"])
        data[at + 4 : at + 46] = bytes(noise.randrange(256) for _ in range(42))
        data[at + 8] = 0xFF  # no known compression method, no equal disk numbers
    assert not records_found(samples.pdf() + bytes(data), [4096, 70_000])
