"""The file pipeline on the real MinIO and ClamAV of `make infra` (addresses from
.data/infra.env through the test kit's `infra` fixture).

Each test session works in buckets of its own prefix (`wfiles-<worker>-<random>`), emptied
before each test and deleted at the end; copies under retention are removed as an operator
would, bypassing GOVERNANCE mode.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from guichet_testkit import worker_name
from guichet_wallet.files.pipeline import FilePipeline, FileSpec

CHUNK = 64 * 1024
DOCUMENTS = frozenset({"application/pdf", "image/jpeg", "image/png"})
MAX_SIZE = 20_000_000


def session_prefix() -> str:
    worker = re.sub(r"[^a-z0-9]", "", worker_name().lower())[:12]
    return f"wfiles-{worker}-{uuid.uuid4().hex[:8]}"


def new_pipeline(infra: dict[str, str], prefix: str, **changes: object) -> FilePipeline:
    settings: dict[str, object] = {
        "endpoint": infra["GUICHET_MINIO_ENDPOINT"],
        "access_key": infra["GUICHET_MINIO_ACCESS_KEY"],
        "secret_key": infra["GUICHET_MINIO_SECRET_KEY"],
        "secure": False,
        "bucket_prefix": prefix,
        "clamav_address": infra["GUICHET_CLAMAV_ADDRESS"],
    }
    settings.update(changes)
    return FilePipeline(**settings)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def bucket_prefix() -> str:
    return session_prefix()


@pytest.fixture(scope="session")
async def session_pipeline(
    infra: dict[str, str], bucket_prefix: str
) -> AsyncIterator[FilePipeline]:
    files = new_pipeline(infra, bucket_prefix)
    async with files:
        yield files
        for bucket in files.storage.buckets:
            await empty(files, bucket)
            await files.storage.client.remove_bucket(bucket)


async def empty(files: FilePipeline, bucket: str) -> None:
    for upload in await files.storage.pending_uploads(bucket):
        await files.storage.abort_upload(bucket, upload.key, upload.upload_id)
    await files.storage.remove_all(bucket, bypass_retention=True)


@pytest.fixture
async def pipeline(session_pipeline: FilePipeline) -> FilePipeline:
    for bucket in session_pipeline.storage.buckets:
        await empty(session_pipeline, bucket)
    return session_pipeline


async def leftovers(files: FilePipeline) -> set[str]:
    """Every object version and every unfinished upload in the pipeline's buckets."""
    found: set[str] = set()
    for bucket in files.storage.buckets:
        async for item in files.storage.client.list_objects(
            bucket, recursive=True, include_version=True
        ):
            version = "" if item.version_id in (None, "null") else f"@{item.version_id}"
            found.add(f"{bucket}/{item.object_name}{version}")
        for upload in await files.storage.pending_uploads(bucket):
            found.add(f"{bucket}/{upload.key} (unfinished upload)")
    return found


@pytest.fixture
def remains(pipeline: FilePipeline) -> Callable[[], Awaitable[set[str]]]:
    return lambda: leftovers(pipeline)


class Chunks:
    """A client's stream: `data` in chunks, counting how many the pipeline pulled; it can fail
    (the client gone) after `fail_after` bytes."""

    def __init__(self, data: bytes, chunk: int = CHUNK, fail_after: int | None = None) -> None:
        self.data = data
        self.chunk = chunk
        self.fail_after = fail_after
        self.pulled = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            if self.fail_after is not None and start >= self.fail_after:
                raise ConnectionResetError("the client went away")
            self.pulled += 1
            yield self.data[start : start + self.chunk]

    @property
    def bytes_pulled(self) -> int:
        return min(self.pulled * self.chunk, len(self.data))


def spec(
    file_name: str = "facture.pdf",
    declared_type: str = "application/pdf",
    declared_size: int = 0,
    allowed_types: frozenset[str] = DOCUMENTS,
    max_size: int = MAX_SIZE,
) -> FileSpec:
    return FileSpec(file_name, declared_type, declared_size, allowed_types, max_size)
