"""The sweep removes what failures left behind — unfinished uploads, quarantine leftovers,
stored objects no row refers to — once older than the grace; what a row refers to, what is
younger than the grace and copies still retained stay."""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from guichet_wallet.files.pipeline import Destination, FilePipeline

from ...unit.files import samples
from .conftest import Chunks, spec

Remains = Callable[[], Awaitable[set[str]]]
NOW = timedelta(0)


class Rows:
    """The callback standing for the wallet's rows: the keys it holds, and the batches asked."""

    def __init__(self, *keys: str) -> None:
        self.keys = set(keys)
        self.asked: list[list[str]] = []

    async def __call__(self, keys: Sequence[str]) -> set[str]:
        self.asked.append(list(keys))
        return self.keys & set(keys)


async def put(pipeline: FilePipeline, bucket: str, data: bytes = b"left over") -> str:
    key = uuid.uuid4().hex
    await pipeline.storage.client.put_object(bucket, key, io.BytesIO(data), len(data))
    return key


async def test_an_object_without_a_row_is_removed_and_a_referenced_one_stays(
    pipeline: FilePipeline, remains: Remains
) -> None:
    kept = await pipeline.take(Chunks(samples.pdf()), spec(), Destination.WALLET)
    orphan = await pipeline.take(Chunks(samples.pdf()), spec(), Destination.WALLET)
    rows = Rows(kept.key)

    report = await pipeline.sweep(rows, NOW)

    assert report.orphans_removed == 1
    assert sorted(rows.asked[0]) == sorted([kept.key, orphan.key])
    assert await remains() == {f"{kept.bucket}/{kept.key}"}


async def test_nothing_younger_than_the_grace_is_touched(
    pipeline: FilePipeline, remains: Remains
) -> None:
    await pipeline.take(Chunks(samples.pdf()), spec(), Destination.WALLET)
    await put(pipeline, pipeline.storage.quarantine)
    await pipeline.storage.begin_upload(
        pipeline.storage.quarantine, uuid.uuid4().hex, "application/pdf"
    )
    before = await remains()
    assert len(before) == 3

    report = await pipeline.sweep(Rows(), timedelta(hours=1))

    assert (report.aborted_uploads, report.quarantine_removed, report.orphans_removed) == (0, 0, 0)
    assert await remains() == before


async def test_an_upload_abandoned_by_a_killed_process_is_aborted(
    pipeline: FilePipeline, remains: Remains
) -> None:
    # What a process killed mid-upload leaves: a multipart upload with a part, never finished.
    storage = pipeline.storage
    key = uuid.uuid4().hex
    upload_id = await storage.begin_upload(storage.quarantine, key, "application/pdf")
    await storage.upload_part(storage.quarantine, key, upload_id, 1, bytes(5 * samples.MiB))
    assert f"{storage.quarantine}/{key} (unfinished upload)" in await remains()

    report = await pipeline.sweep(Rows(), NOW)

    assert report.aborted_uploads == 1
    assert await remains() == set()


async def test_quarantine_leftovers_are_removed(pipeline: FilePipeline, remains: Remains) -> None:
    await put(pipeline, pipeline.storage.quarantine)
    await put(pipeline, pipeline.storage.quarantine)

    report = await pipeline.sweep(Rows(), NOW)

    assert report.quarantine_removed == 2
    assert await remains() == set()


async def test_a_retained_copy_without_a_row_is_reported_not_removed(
    pipeline: FilePipeline, remains: Remains
) -> None:
    copy = await pipeline.take(Chunks(samples.pdf()), spec(), Destination.COPIES, 1)
    referenced = await pipeline.take(Chunks(samples.pdf()), spec(), Destination.COPIES, 1)
    unlocked = await put(pipeline, pipeline.storage.copies)  # no retention: removable
    before = await remains()

    report = await pipeline.sweep(Rows(referenced.key), NOW)

    assert report.retained_copies == (copy.key,)
    assert report.orphans_removed == 1
    assert await remains() == {entry for entry in before if unlocked not in entry}
