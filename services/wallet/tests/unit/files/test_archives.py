"""ZIP archives: bombs (entries, total size, ratio, nesting, lying sizes) and entry names leading
out of their folder are refused; office documents and fair archives pass. The archive is read
here from memory through the same ranged reads the pipeline makes on the stored object."""

from __future__ import annotations

import struct
import zipfile

import pytest

from guichet_kit.domain import InvalidInput
from guichet_wallet.files.archives import ArchiveLimits, check_zip

from . import samples

MiB = samples.MiB


class InMemory:
    """Bytes read at an offset, counting the reads and the bytes they returned."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads = 0
        self.largest = 0

    @property
    def size(self) -> int:
        return len(self.data)

    async def read_at(self, offset: int, length: int) -> bytes:
        self.reads += 1
        self.largest = max(self.largest, length)
        return self.data[offset : offset + length]


async def refusal(data: bytes, limits: ArchiveLimits | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        await check_zip(InMemory(data), limits or ArchiveLimits())
    return refused.value


@pytest.mark.parametrize(
    "data",
    [
        samples.docx(),
        samples.zip_of({"a.txt": b"a" * 1000, "dir/": b"", "dir/b.txt": b"b"}),
        samples.zip_of({"stored.txt": b"plain"}, zipfile.ZIP_STORED),
        samples.zip_of({}),
        samples.nested_zip(2),  # a zip holding a zip
        samples.zeros_zip(8 * MiB),  # 8 MiB of zeros: very compressed, but small
    ],
    ids=["docx", "folders", "stored", "empty", "nested", "small-zeros"],
)
async def test_a_fair_archive_passes(data: bytes) -> None:
    await check_zip(InMemory(data), ArchiveLimits(max_ratio=100, ratio_floor=16 * MiB))


async def test_a_gigabyte_of_zeros_is_a_bomb_refused_from_its_directory_alone() -> None:
    bomb = samples.zeros_zip(1000 * MiB)
    source = InMemory(bomb)
    with pytest.raises(InvalidInput) as refused:
        await check_zip(source, ArchiveLimits())
    assert refused.value.reason == "ARCHIVE_BOMB"
    assert "200 MB" in str(refused.value.message)
    # The central directory was enough: nothing was unpacked, and no read was larger than 1 MiB.
    assert source.largest <= MiB


async def test_an_entry_compressed_beyond_the_ratio_is_a_bomb() -> None:
    refused = await refusal(samples.zeros_zip(50 * MiB))
    assert refused.reason == "ARCHIVE_BOMB"
    assert "100 to 1" in str(refused.message)


async def test_too_many_entries_is_a_bomb() -> None:
    many = samples.zip_of({f"f{i}.txt": b"" for i in range(51)})
    refused = await refusal(many, ArchiveLimits(max_entries=50))
    assert refused.reason == "ARCHIVE_BOMB"
    assert "at most 50" in str(refused.message)
    await check_zip(InMemory(many), ArchiveLimits(max_entries=51))


async def test_archives_nested_too_deep_are_a_bomb() -> None:
    await check_zip(InMemory(samples.nested_zip(3)), ArchiveLimits(max_depth=2))
    refused = await refusal(samples.nested_zip(4), ArchiveLimits(max_depth=2))
    assert refused.reason == "ARCHIVE_BOMB"
    assert "nested too deep" in str(refused.message)


async def test_nested_archives_share_one_size_budget() -> None:
    # Ten archives of 30 MiB each inside one: each alone is fair, together they pass 200 MB.
    inner = samples.zip_of({"part.bin": bytes(30 * MiB)})
    outer = samples.zip_of({f"part{i}.zip": inner for i in range(10)})
    refused = await refusal(outer, ArchiveLimits(max_ratio=10_000))
    assert refused.reason == "ARCHIVE_BOMB"
    assert "200 MB" in str(refused.message)


async def test_an_entry_unpacking_to_more_than_it_declares_is_a_bomb() -> None:
    # Its directory claims 1,000 bytes: only unpacking shows the 50 MiB.
    refused = await refusal(samples.lying_zip(50 * MiB, 1000))
    assert refused.reason == "ARCHIVE_BOMB"
    assert "more than it declares" in str(refused.message)


@pytest.mark.parametrize(
    "name",
    [
        "../evil.sh",
        "docs/../../evil.sh",
        "/etc/cron.d/evil",
        "C:/Windows/evil.dll",
        "docs\\..\\evil.sh",
        "docs\\evil.sh",
        "..",
    ],
)
async def test_an_entry_named_out_of_its_folder_is_refused(name: str) -> None:
    refused = await refusal(samples.zip_of({"fine.txt": b"ok", name: b"payload"}))
    assert refused.reason == "ARCHIVE_PATH_TRAVERSAL"


async def test_an_entry_name_cut_by_a_nul_is_refused() -> None:
    # "evil.sh\0.txt" is evil.sh to a program reading up to the NUL (zipfile cannot write it).
    data = samples.zip_of({"evil.sh_.txt": b"payload"}).replace(b"evil.sh_", b"evil.sh\0")
    refused = await refusal(data)
    assert refused.reason == "ARCHIVE_PATH_TRAVERSAL"


async def test_a_traversal_inside_a_nested_archive_is_refused() -> None:
    inner = samples.zip_of({"../../evil.sh": b"payload"})
    refused = await refusal(samples.zip_of({"inner.zip": inner}))
    assert refused.reason == "ARCHIVE_PATH_TRAVERSAL"


async def test_an_encrypted_entry_cannot_be_checked() -> None:
    data = bytearray(samples.zip_of({"secret.txt": b"hidden"}))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + flags_at : at + flags_at + 2] = struct.pack("<H", 1)
    refused = await refusal(bytes(data))
    assert refused.reason == "FILE_TYPE_NOT_ALLOWED"
    assert "encrypted" in str(refused.message)


async def test_an_unknown_compression_method_cannot_be_checked() -> None:
    data = samples.zip_of({"a.txt": b"a" * 100}, zipfile.ZIP_BZIP2)
    refused = await refusal(data)
    assert refused.reason == "FILE_TYPE_NOT_ALLOWED"


def pointing_elsewhere(data: bytes) -> bytes:
    """The end record's directory offset moved to where no directory is."""
    at = data.rfind(b"PK\x05\x06")
    return data[: at + 16] + struct.pack("<I", 1) + data[at + 20 :]


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04" + bytes(100),  # a local record, no directory
        samples.zip_of({"a.txt": b"a" * 100})[:-30],  # cut short
        pointing_elsewhere(samples.zip_of({"a.txt": b"a" * 1000})),
    ],
    ids=["no-directory", "truncated", "directory-elsewhere"],
)
async def test_a_damaged_archive_is_refused(data: bytes) -> None:
    refused = await refusal(data)
    assert refused.reason == "ARCHIVE_INVALID"


async def test_a_corrupt_deflate_stream_is_refused_as_damaged() -> None:
    data = bytearray(samples.zip_of({"a.txt": bytes(range(256)) * 400}))
    at = data.find(b"PK\x03\x04") + 30 + len("a.txt")
    data[at : at + 40] = b"\xff" * 40
    refused = await refusal(bytes(data))
    assert refused.reason == "ARCHIVE_INVALID"


async def test_the_directory_is_read_in_windows_not_whole() -> None:
    # 3,000 entries: a directory of about 150 KiB is walked with a few windowed reads.
    many = samples.zip_of({f"folder/file-{i:05}.txt": b"x" for i in range(3000)})
    source = InMemory(many)
    await check_zip(source, ArchiveLimits())
    assert source.reads < 10
    assert source.largest <= MiB
