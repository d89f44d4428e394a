"""The pipeline's three buckets on MinIO, named from one prefix: `<prefix>-quarantine` (files
being received and scanned), `<prefix>-wallet` (people's files) and `<prefix>-copies` (immutable
copies: object lock, a GOVERNANCE retention per object). Every bucket encrypts at rest with the
server's KMS key (SSE-S3 by default, and asked for on each write as well).

Only what the pipeline needs, as plain calls; refusals and cleanup are the pipeline's business.
A failure of MinIO itself is Unavailable STORAGE_UNAVAILABLE (see `storage_errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from miniopy_async.api import Minio
from miniopy_async.commonconfig import COPY, GOVERNANCE, REPLACE, CopySource
from miniopy_async.datatypes import Part
from miniopy_async.deleteobjects import DeleteObject
from miniopy_async.error import MinioException, S3Error
from miniopy_async.retention import Retention
from miniopy_async.sse import SseS3
from miniopy_async.sseconfig import Rule, SSEConfig

from guichet_kit.domain import Unavailable
from guichet_kit.i18n import Catalog

_ = Catalog("guichet_wallet")
log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{1,45}$")
ENCRYPTED = SseS3()
MISSING = {"NoSuchKey", "NoSuchVersion", "NoSuchUpload", "NoSuchBucket"}


def storage_unavailable() -> Unavailable:
    return Unavailable(
        "STORAGE_UNAVAILABLE", _("Files cannot be stored or read at the moment: try again later")
    )


STORAGE_FAILURES = (MinioException, aiohttp.ClientError, OSError, TimeoutError)


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """MinIO failing (down, refusing, answering nonsense) → Unavailable STORAGE_UNAVAILABLE."""
    try:
        yield
    except STORAGE_FAILURES as error:
        log.warning("storage failed: %r", error)
        raise storage_unavailable() from error


def is_missing(error: BaseException) -> bool:
    return isinstance(error, S3Error) and error.code in MISSING


@dataclass(frozen=True)
class StoredObject:
    """An object as listed: its key, when it was written, its version in the copies bucket."""

    key: str
    modified: datetime
    version_id: str | None = None


@dataclass(frozen=True)
class PendingUpload:
    key: str
    upload_id: str
    initiated: datetime


class Storage:
    def __init__(
        self, endpoint: str, access_key: str, secret_key: str, secure: bool, bucket_prefix: str
    ) -> None:
        if not BUCKET_PREFIX.match(bucket_prefix):
            raise ValueError(
                f"bucket prefix {bucket_prefix!r}: lower-case letters, digits and hyphens, "
                "2 to 46 characters"
            )
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure)
        self.quarantine = f"{bucket_prefix}-quarantine"
        self.wallet = f"{bucket_prefix}-wallet"
        self.copies = f"{bucket_prefix}-copies"
        self._ready = False
        self._readying = asyncio.Lock()

    @property
    def buckets(self) -> tuple[str, str, str]:
        return (self.quarantine, self.wallet, self.copies)

    async def ensure_buckets(self) -> None:
        """Creates what is missing (once per process): encryption on every bucket, object lock on
        the copies bucket. An existing copies bucket without object lock is refused: its copies
        could be deleted."""
        if self._ready:
            return
        async with self._readying:
            if self._ready:
                return
            for bucket in self.buckets:
                locked = bucket == self.copies
                if not await self.client.bucket_exists(bucket):
                    try:
                        await self.client.make_bucket(bucket, object_lock=locked)
                    except S3Error as error:
                        # Another process of the service made it in between.
                        if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            raise
                await self.client.set_bucket_encryption(bucket, SSEConfig(Rule.new_sse_s3_rule()))
                if locked:
                    try:
                        await self.client.get_object_lock_config(bucket)
                    except S3Error as error:
                        raise RuntimeError(f"bucket {bucket} has no object lock") from error
            self._ready = True

    async def close(self) -> None:
        await self.client.close_session()  # type: ignore[no-untyped-call]

    # --- writing: multipart uploads, server-side copies ---

    async def begin_upload(self, bucket: str, key: str, content_type: str) -> str:
        headers: dict[str, str | list[str] | tuple[str]] = {
            "Content-Type": content_type,
            **ENCRYPTED.headers(),
        }
        return await self.client._create_multipart_upload(bucket, key, headers)

    async def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, data: bytes
    ) -> Part:
        etag = await self.client._upload_part(bucket, key, data, None, upload_id, number)
        return Part(number, etag)

    async def complete_upload(
        self, bucket: str, key: str, upload_id: str, parts: list[Part]
    ) -> None:
        await self.client._complete_multipart_upload(bucket, key, upload_id, parts)

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            await self.client._abort_multipart_upload(bucket, key, upload_id)
        except S3Error as error:
            if not is_missing(error):
                raise

    async def copy(
        self,
        source_bucket: str,
        source_key: str,
        bucket: str,
        key: str,
        *,
        content_type: str,
        sha256: str,
        retain_until: datetime | None = None,
        source_version: str | None = None,
    ) -> None:
        """A server-side copy, encrypted, with the stored type and digest as its metadata and,
        into the copies bucket, its retention."""
        await self.client.copy_object(
            bucket,
            key,
            CopySource(source_bucket, source_key, version_id=source_version),
            sse=ENCRYPTED,
            metadata={"Content-Type": content_type, "x-amz-meta-sha256": sha256},
            retention=Retention(GOVERNANCE, retain_until) if retain_until else None,
            metadata_directive=REPLACE,
            tagging_directive=COPY,
        )

    # --- reading ---

    async def read_range(self, bucket: str, key: str, offset: int, length: int) -> bytes:
        if length == 0:
            return b""
        response = await self.client.get_object(bucket, key, offset=offset, length=length)
        try:
            return await response.read()
        finally:
            response.release()

    async def stream(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> AsyncIterator[bytes]:
        response = await self.client.get_object(bucket, key, version_id=version_id)
        try:
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                yield chunk
        except BaseException:
            # A read given up half way: the connection cannot serve another request.
            response.close()
            raise
        response.release()

    async def versions(self, bucket: str, key: str) -> list[StoredObject]:
        """The versions of `key`, oldest first, delete markers left out."""
        found = [
            StoredObject(item.object_name or "", item.last_modified or _epoch(), item.version_id)
            async for item in self.client.list_objects(bucket, prefix=key, include_version=True)
            if item.object_name == key and not item.is_delete_marker
        ]
        # Versions come newest first; sort stably on the time for servers that differ.
        return sorted(reversed(found), key=lambda version: version.modified)

    async def retained_until(
        self, bucket: str, key: str, version_id: str | None
    ) -> datetime | None:
        try:
            retention = await self.client.get_object_retention(bucket, key, version_id)
        except S3Error as error:
            if error.code in ("NoSuchObjectLockConfiguration", *MISSING):
                return None
            raise
        return retention.retain_until_date if retention else None

    # --- removing ---

    async def remove(self, bucket: str, key: str) -> None:
        """Removes the object (every version and delete marker, in the copies bucket)."""
        if bucket != self.copies:
            await self.client.remove_object(bucket, key)
            return
        markers = [
            item.version_id
            async for item in self.client.list_objects(bucket, prefix=key, include_version=True)
            if item.object_name == key
        ]
        for version_id in markers:
            await self.client.remove_object(bucket, key, version_id=version_id)

    async def remove_all(self, bucket: str, bypass_retention: bool = False) -> None:
        """Empties a bucket, every version; an operator's bypass of GOVERNANCE retention when
        asked (tests' cleanup)."""
        objects = [
            DeleteObject(item.object_name or "", item.version_id)
            async for item in self.client.list_objects(bucket, recursive=True, include_version=True)
        ]
        if objects:
            errors = [
                error
                async for error in self.client.remove_objects(
                    bucket, objects, bypass_governance_mode=bypass_retention
                )
            ]
            if errors:
                raise RuntimeError(f"could not empty {bucket}: {errors[:3]}")

    # --- listing, for the sweep ---

    async def objects(self, bucket: str) -> AsyncIterator[StoredObject]:
        async for item in self.client.list_objects(bucket, recursive=True):
            if item.object_name:
                yield StoredObject(item.object_name, item.last_modified or _epoch())

    async def pending_uploads(self, bucket: str) -> list[PendingUpload]:
        pending: list[PendingUpload] = []
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            result = await self.client._list_multipart_uploads(
                bucket, key_marker=key_marker, upload_id_marker=upload_marker
            )
            pending.extend(
                PendingUpload(
                    upload.object_name, upload.upload_id, upload.initiated_time or _epoch()
                )
                for upload in result.uploads
                if upload.upload_id
            )
            if not result.is_truncated:
                return pending
            key_marker, upload_marker = result.next_key_marker, result.next_upload_id_marker


def _epoch() -> datetime:
    return datetime.fromtimestamp(0).astimezone()
