"""Taking files through the pipeline on the real MinIO and ClamAV: what passes is stored once,
encrypted, with its digest and the type found in its bytes; every bad input is refused with its
reason and leaves nothing in any bucket, not even an unfinished upload."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import pytest

from guichet_kit.domain import InvalidInput
from guichet_wallet.files.archives import ArchiveLimits
from guichet_wallet.files.pipeline import Destination, FilePipeline, StoredFile

from ...unit.files import samples
from .conftest import Chunks, new_pipeline, session_prefix, spec

MiB = samples.MiB
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ARCHIVES = frozenset({"application/zip", DOCX})

Remains = Callable[[], Awaitable[set[str]]]


async def read_all(pipeline: FilePipeline, stored: StoredFile) -> bytes:
    return b"".join([chunk async for chunk in pipeline.read(stored.bucket, stored.key)])


async def test_a_pdf_is_stored_in_the_wallet_encrypted_with_its_type_and_digest(
    pipeline: FilePipeline, remains: Remains
) -> None:
    data = samples.pdf(10_000)

    stored = await pipeline.take(Chunks(data), spec(" Facture\u0301 mars.pdf "), Destination.WALLET)

    assert stored.bucket == pipeline.storage.wallet
    assert len(stored.key) == 32 and "facture" not in stored.key.lower()
    assert stored.display_name == "Facturé mars.pdf"
    assert stored.content_type == "application/pdf"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.retained_until is None
    stat = await pipeline.storage.client.stat_object(stored.bucket, stored.key)
    assert stat.metadata["x-amz-server-side-encryption"] in ("AES256", "aws:kms")
    assert stat.content_type == "application/pdf"
    assert stat.metadata["x-amz-meta-sha256"] == stored.sha256
    assert await read_all(pipeline, stored) == data
    # Out of quarantine: the stored object is the only thing left.
    assert await remains() == {f"{stored.bucket}/{stored.key}"}


async def test_a_file_of_the_largest_size_streams_in_parts(
    pipeline: FilePipeline, remains: Remains
) -> None:
    data = samples.pdf(19_999_000)
    assert 2 * pipeline.part_size < len(data) <= 20_000_000

    stored = await pipeline.take(Chunks(data), spec(max_size=20_000_000), Destination.WALLET)

    assert stored.size == len(data) and stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(pipeline, stored) == data
    assert len(await remains()) == 1


@pytest.mark.parametrize(
    ("data", "declared", "found"),
    [
        (samples.png(), "image/png", "image/png"),
        (samples.jpeg(), "image/jpg", "image/jpeg"),
        (samples.docx(), DOCX, DOCX),
        (samples.zip_of({"a.txt": b"a", "b/c.txt": b"c"}), "application/zip", "application/zip"),
    ],
    ids=["png", "jpeg", "docx", "zip"],
)
async def test_allowed_types_are_stored_under_the_type_found(
    pipeline: FilePipeline, data: bytes, declared: str, found: str
) -> None:
    allowed = frozenset({"image/png", "image/jpeg"}) | ARCHIVES
    stored = await pipeline.take(
        Chunks(data), spec("f", declared, allowed_types=allowed), Destination.WALLET
    )
    assert stored.content_type == found
    assert await read_all(pipeline, stored) == data


async def refused_take(
    pipeline: FilePipeline, chunks: Chunks, **spec_fields: object
) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        await pipeline.take(chunks, spec(**spec_fields), Destination.WALLET)  # type: ignore[arg-type]
    return refused.value


async def test_a_declared_size_over_the_limit_is_refused_before_a_byte_is_read(
    pipeline: FilePipeline, remains: Remains
) -> None:
    chunks = Chunks(samples.pdf(100))
    refused = await refused_take(pipeline, chunks, declared_size=20_000_001)
    assert refused.reason == "FILE_TOO_LARGE"
    assert chunks.pulled == 0
    assert await remains() == set()


async def test_an_undeclared_oversize_is_refused_as_soon_as_the_limit_is_passed(
    pipeline: FilePipeline, remains: Remains
) -> None:
    # 40 MB sent to a 20 MB limit: a part was already sent; the upload is aborted at 20 MB.
    chunks = Chunks(samples.pdf(40_000_000))
    refused = await refused_take(pipeline, chunks)
    assert refused.reason == "FILE_TOO_LARGE"
    assert str(refused.message) == "The file is too large: at most 20 MB"
    assert chunks.bytes_pulled <= 20_000_000 + chunks.chunk
    assert await remains() == set()


@pytest.mark.parametrize(
    ("data", "fields", "reason"),
    [
        (b"", {}, "FILE_EMPTY"),
        (samples.png(), {}, "FILE_TYPE_MISMATCH"),  # a PNG declared as a PDF
        (samples.elf(), {"file_name": "facture.pdf"}, "FILE_TYPE_MISMATCH"),
        (samples.windows_exe(), {"file_name": "facture.pdf"}, "FILE_TYPE_MISMATCH"),
        (samples.polyglot(), {}, "FILE_POLYGLOT"),
        (samples.polyglot(9 * MiB), {}, "FILE_POLYGLOT"),  # the archive after a sent part
        (samples.EICAR, {"declared_type": "text/plain"}, "FILE_TYPE_NOT_ALLOWED"),
        (samples.pdf(), {"file_name": "../../facture.pdf"}, "INVALID_FILE_NAME"),
        (samples.pdf(), {"file_name": "facture\0.pdf"}, "INVALID_FILE_NAME"),
        (samples.pdf(), {"file_name": "facture\u202efdp.exe"}, "INVALID_FILE_NAME"),
        (samples.pdf(), {"file_name": "a" * 1000 + ".pdf"}, "INVALID_FILE_NAME"),
    ],
    ids=[
        "empty",
        "png-as-pdf",
        "elf-as-pdf",
        "exe-as-pdf",
        "polyglot",
        "polyglot-after-a-part",
        "text-not-allowed",
        "dot-dot",
        "nul",
        "rtl-override",
        "1000-characters",
    ],
)
async def test_a_bad_file_is_refused_and_nothing_remains(
    pipeline: FilePipeline, remains: Remains, data: bytes, fields: dict[str, object], reason: str
) -> None:
    refused = await refused_take(pipeline, Chunks(data), **fields)
    assert refused.reason == reason
    assert await remains() == set()


async def test_eicar_is_refused_as_infected(pipeline: FilePipeline, remains: Remains) -> None:
    text = frozenset({"text/plain"})
    refused = await refused_take(
        pipeline, Chunks(samples.EICAR), declared_type="text/plain", allowed_types=text
    )
    assert refused.reason == "FILE_INFECTED"
    assert await remains() == set()


async def test_eicar_inside_a_pdf_after_a_sent_part_is_refused(
    pipeline: FilePipeline, remains: Remains
) -> None:
    # Fed to the scanner as it streamed by: found in the middle of a 12 MB file.
    data = samples.pdf(6 * MiB) + b"% " + samples.EICAR + b"\n" + samples.pdf(6 * MiB)
    refused = await refused_take(pipeline, Chunks(data))
    assert refused.reason == "FILE_INFECTED"
    assert await remains() == set()


async def test_eicar_inside_a_zip_is_refused(pipeline: FilePipeline, remains: Remains) -> None:
    data = samples.zip_of({"readme.txt": b"hello", "tool.com": samples.EICAR})
    refused = await refused_take(
        pipeline, Chunks(data), declared_type="application/zip", allowed_types=ARCHIVES
    )
    assert refused.reason == "FILE_INFECTED"
    assert await remains() == set()


@pytest.mark.parametrize(
    ("data", "reason", "says"),
    [
        (samples.zeros_zip(1000 * MiB), "ARCHIVE_BOMB", "200 MB"),  # 1 GB of zeros in 1 MB
        (samples.zeros_zip(100 * MiB), "ARCHIVE_BOMB", "100 to 1"),
        (samples.lying_zip(50 * MiB, 1000), "ARCHIVE_BOMB", "more than it declares"),
        (samples.nested_zip(4), "ARCHIVE_BOMB", "nested too deep"),
        (samples.zip_of({f"f{i}": b"" for i in range(10_001)}), "ARCHIVE_BOMB", "too many"),
        (samples.zip_of({"../../.bashrc": b"evil"}), "ARCHIVE_PATH_TRAVERSAL", "../../.bashrc"),
        (samples.zip_of({"/etc/passwd": b"evil"}), "ARCHIVE_PATH_TRAVERSAL", "/etc/passwd"),
        (samples.zip_of({"a\\..\\b": b"evil"}), "ARCHIVE_PATH_TRAVERSAL", "a\\..\\b"),
    ],
    ids=["gigabyte", "ratio", "lying", "nested", "entries", "dot-dot", "absolute", "backslash"],
)
async def test_a_dangerous_archive_is_refused_and_nothing_remains(
    pipeline: FilePipeline, remains: Remains, data: bytes, reason: str, says: str
) -> None:
    refused = await refused_take(
        pipeline, Chunks(data), declared_type="application/zip", allowed_types=ARCHIVES
    )
    assert refused.reason == reason
    assert says in str(refused.message)
    assert await remains() == set()


async def test_a_docx_with_a_traversing_entry_is_refused(
    pipeline: FilePipeline, remains: Remains
) -> None:
    data = samples.docx({"word/../../evil.xml": b"<x/>"})
    refused = await refused_take(
        pipeline, Chunks(data), file_name="cv.docx", declared_type=DOCX, allowed_types=ARCHIVES
    )
    assert refused.reason == "ARCHIVE_PATH_TRAVERSAL"
    assert await remains() == set()


async def test_archive_limits_are_the_pipelines_own(
    infra: dict[str, str], remains: Remains
) -> None:
    # A pipeline constructed with tighter limits holds to them (and uses the same buckets).
    prefix = session_prefix()
    tight = new_pipeline(infra, prefix, archive_limits=ArchiveLimits(max_entries=5))
    async with tight:
        try:
            with pytest.raises(InvalidInput) as refused:
                await tight.take(
                    Chunks(samples.zip_of({f"f{i}": b"" for i in range(6)})),
                    spec("a.zip", "application/zip", allowed_types=ARCHIVES),
                    Destination.WALLET,
                )
            assert refused.value.reason == "ARCHIVE_BOMB"
        finally:
            for bucket in tight.storage.buckets:
                await tight.storage.remove_all(bucket, bypass_retention=True)
                await tight.storage.client.remove_bucket(bucket)
