"""Immutable copies (object lock, GOVERNANCE retention per object), server-side copies between
buckets, streamed reads, idempotent removal."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from miniopy_async.commonconfig import GOVERNANCE
from miniopy_async.error import S3Error

from guichet_kit.domain import Conflict, NotFound
from guichet_wallet.files.pipeline import Destination, FilePipeline, StoredFile

from ...unit.files import samples
from .conftest import Chunks, spec

Remains = Callable[[], Awaitable[set[str]]]


async def read_all(pipeline: FilePipeline, stored: StoredFile) -> bytes:
    return b"".join([chunk async for chunk in pipeline.read(stored.bucket, stored.key)])


async def test_a_copy_is_retained_under_governance_and_encrypted(pipeline: FilePipeline) -> None:
    data = samples.pdf(1000)
    before = datetime.now(UTC)

    copy = await pipeline.take(Chunks(data), spec(), Destination.COPIES, retention_days=1)

    assert copy.bucket == pipeline.storage.copies
    assert copy.retained_until is not None
    assert before + timedelta(days=1) - timedelta(seconds=1) <= copy.retained_until
    assert copy.retained_until <= datetime.now(UTC) + timedelta(days=1)
    retention = await pipeline.storage.client.get_object_retention(copy.bucket, copy.key)
    assert retention.mode == GOVERNANCE
    assert retention.retain_until_date == copy.retained_until
    stat = await pipeline.storage.client.stat_object(copy.bucket, copy.key)
    assert stat.metadata["x-amz-server-side-encryption"] in ("AES256", "aws:kms")
    assert await read_all(pipeline, copy) == data


async def test_a_retained_copy_cannot_be_removed_deleted_or_overwritten(
    pipeline: FilePipeline,
) -> None:
    data = samples.pdf(1000)
    copy = await pipeline.take(Chunks(data), spec(), Destination.COPIES, retention_days=1)
    client = pipeline.storage.client
    (version,) = await pipeline.storage.versions(copy.bucket, copy.key)

    with pytest.raises(Conflict) as refused:
        await pipeline.remove(copy.bucket, copy.key)
    assert refused.value.reason == "COPY_RETAINED"
    assert "retained until" in str(refused.value.message)

    # Straight to the storage, as a careless operator or a bug would: refused too.
    with pytest.raises(S3Error):
        await client.remove_object(copy.bucket, copy.key, version_id=version.version_id)
    # Writing over the key adds a version; the retained one is still there and is what reads.
    await client.put_object(copy.bucket, copy.key, io.BytesIO(b"forged"), 6)
    await client.remove_object(copy.bucket, copy.key)  # a delete marker on top
    assert await read_all(pipeline, copy) == data
    stat = await client.stat_object(copy.bucket, copy.key, version_id=version.version_id)
    assert stat.metadata["x-amz-meta-sha256"] == copy.sha256


async def test_a_wallet_file_is_copied_to_a_retained_copy_and_back(
    pipeline: FilePipeline,
) -> None:
    data = samples.png()
    original = await pipeline.take(Chunks(data), spec("recto.png", "image/png"), Destination.WALLET)

    copy = await pipeline.copy(original, Destination.COPIES, retention_days=1)
    assert copy.bucket == pipeline.storage.copies and copy.key != original.key
    assert (copy.display_name, copy.content_type, copy.size, copy.sha256) == (
        original.display_name,
        original.content_type,
        original.size,
        original.sha256,
    )
    assert copy.retained_until is not None
    retention = await pipeline.storage.client.get_object_retention(copy.bucket, copy.key)
    assert retention.mode == GOVERNANCE

    back = await pipeline.copy(copy, Destination.WALLET)
    assert back.bucket == pipeline.storage.wallet and back.retained_until is None
    stat = await pipeline.storage.client.stat_object(back.bucket, back.key)
    assert stat.content_type == "image/png"
    assert stat.metadata["x-amz-server-side-encryption"] in ("AES256", "aws:kms")
    assert await read_all(pipeline, back) == data
    await pipeline.remove(back.bucket, back.key)
    assert await read_all(pipeline, original) == data


async def test_a_copy_of_an_overwritten_copy_is_of_the_retained_bytes(
    pipeline: FilePipeline,
) -> None:
    data = samples.pdf(100)
    copy = await pipeline.take(Chunks(data), spec(), Destination.COPIES, retention_days=1)
    await pipeline.storage.client.put_object(copy.bucket, copy.key, io.BytesIO(b"forged"), 6)
    back = await pipeline.copy(copy, Destination.WALLET)
    assert await read_all(pipeline, back) == data


async def test_a_copy_needs_a_retention(pipeline: FilePipeline, remains: Remains) -> None:
    chunks = Chunks(samples.pdf())
    with pytest.raises(ValueError, match="at least one day"):
        await pipeline.take(chunks, spec(), Destination.COPIES, retention_days=0)
    assert chunks.pulled == 0
    assert await remains() == set()


async def test_reading_streams_in_chunks(pipeline: FilePipeline) -> None:
    data = samples.pdf(3 * samples.MiB)
    stored = await pipeline.take(Chunks(data), spec(), Destination.WALLET)
    chunks = [chunk async for chunk in pipeline.read(stored.bucket, stored.key)]
    assert len(chunks) >= 12
    assert max(len(chunk) for chunk in chunks) <= 256 * 1024
    assert b"".join(chunks) == data


async def test_removing_is_idempotent_and_reading_a_removed_file_is_not_found(
    pipeline: FilePipeline, remains: Remains
) -> None:
    stored = await pipeline.take(Chunks(samples.pdf()), spec(), Destination.WALLET)
    await pipeline.remove(stored.bucket, stored.key)
    await pipeline.remove(stored.bucket, stored.key)
    assert await remains() == set()
    with pytest.raises(NotFound) as refused:
        await read_all(pipeline, stored)
    assert refused.value.reason == "STORED_FILE_MISSING"
    with pytest.raises(NotFound):
        await pipeline.copy(stored, Destination.COPIES, retention_days=1)


async def test_only_stored_files_are_read_or_removed(pipeline: FilePipeline) -> None:
    with pytest.raises(ValueError, match="not a bucket"):
        await pipeline.remove(pipeline.storage.quarantine, "0" * 32)
    with pytest.raises(ValueError, match="key"):
        await pipeline.remove(pipeline.storage.wallet, "../other")
    with pytest.raises(ValueError, match="not a bucket"):
        await read_all(pipeline, StoredFile("elsewhere", "0" * 32, "x", "x", 1, "x"))
