"""The platform's one path for files: every attachment, eDocument and decision comes in through
`FilePipeline.take` and leaves through `read`.

A file is received as a stream and never held whole: as its chunks arrive it is counted (the
size limit holds as bytes arrive), hashed (SHA-256), typed from its first bytes (libmagic),
searched for a hidden ZIP (polyglot), fed to ClamAV and written in parts of 8 MiB to a multipart
upload in the quarantine bucket. When the stream ends clean — the scanner's verdict, and for ZIP
based types the archive's entries — the object is copied server-side into its destination and
removed from quarantine. Any failure on the way (a refusal, the scanner or MinIO down, the
client gone, the task cancelled) aborts the upload: no object is left anywhere. What a killed
process leaves behind, `sweep` removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import TracebackType
from typing import Self

from miniopy_async.datatypes import Part

from guichet_kit.domain import Conflict, FieldError, InvalidInput, NotFound
from guichet_kit.i18n import Catalog
from guichet_wallet.files.archives import ArchiveLimits, check_zip
from guichet_wallet.files.content import (
    HEAD_SIZE,
    ZipRecordFinder,
    check_declared_type,
    check_found_type,
    is_zip_based,
    polyglot_error,
    sniff,
)
from guichet_wallet.files.names import display_name
from guichet_wallet.files.scanner import Scan, Scanner
from guichet_wallet.files.storage import Storage, is_missing, storage_errors

_ = Catalog("guichet_wallet")
log = logging.getLogger(__name__)

MiB = 1024 * 1024
# MinIO refuses parts under 5 MiB but the last; two parts at most are in memory per upload (one
# being sent, one filling).
PART_SIZE = 8 * MiB
KEY = re.compile(r"^[0-9a-f]{32}$")
SWEEP_BATCH = 1000


class Destination(Enum):
    WALLET = "wallet"
    COPIES = "copies"  # object-locked bucket: immutable copies with a retention


@dataclass(frozen=True)
class FileSpec:
    file_name: str  # as the client sent it; the pipeline validates it
    declared_type: str  # MIME type the client declares
    declared_size: int  # 0 (or less) when unknown; > max_size is refused before any byte is read
    allowed_types: frozenset[str]
    max_size: int


@dataclass(frozen=True)
class StoredFile:
    bucket: str
    key: str  # random, never derived from the name or the owner
    display_name: str  # sanitized name to show and to put in Content-Disposition
    content_type: str  # found from the bytes (libmagic)
    size: int
    sha256: str  # hex
    retained_until: datetime | None = None  # copies only


@dataclass(frozen=True)
class SweepReport:
    aborted_uploads: int = 0
    quarantine_removed: int = 0
    orphans_removed: int = 0
    # Unreferenced copies that are still under retention: kept, removed by a later sweep.
    retained_copies: tuple[str, ...] = ()


def too_large(max_size: int) -> InvalidInput:
    message = _("The file is too large: at most {maximum} MB", maximum=f"{max_size / 1e6:g}")
    return InvalidInput("FILE_TOO_LARGE", message, [FieldError("file", "FILE_TOO_LARGE", message)])


def empty() -> InvalidInput:
    message = _("The file is empty")
    return InvalidInput("FILE_EMPTY", message, [FieldError("file", "FILE_EMPTY", message)])


def infected() -> InvalidInput:
    return InvalidInput(
        "FILE_INFECTED", _("The file contains a virus or malicious content: it is refused")
    )


def missing() -> NotFound:
    return NotFound("STORED_FILE_MISSING", _("This file is no longer stored"))


@dataclass
class _Intake:
    """One file being received: what is known of it so far, and what it holds in storage."""

    spec: FileSpec
    key: str
    scan: Scan
    size: int = 0
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)
    head: bytearray = field(default_factory=bytearray)
    content_type: str | None = None
    zip_records: ZipRecordFinder | None = field(default_factory=ZipRecordFinder)
    buffer: bytearray = field(default_factory=bytearray)
    upload_id: str | None = None
    parts: list[Part] = field(default_factory=list)
    sending: asyncio.Task[Part] | None = None
    completed: bool = False


class FilePipeline:
    """Constructed from the wallet's settings; `start` at service start (it creates the buckets
    if missing; every method also does on first use), `close` at the end."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        secure: bool,
        bucket_prefix: str,
        clamav_address: str,
        archive_limits: ArchiveLimits | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        if part_size < 5 * MiB:
            raise ValueError("parts under 5 MiB are refused by the storage")
        self.storage = Storage(endpoint, access_key, secret_key, secure, bucket_prefix)
        self.scanner = Scanner(clamav_address)
        self.archive_limits = archive_limits or ArchiveLimits()
        self.part_size = part_size

    async def start(self) -> None:
        with storage_errors():
            await self.storage.ensure_buckets()

    async def close(self) -> None:
        await self.storage.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def bucket(self, destination: Destination) -> str:
        return self.storage.wallet if destination is Destination.WALLET else self.storage.copies

    # --- receiving ---

    def check(self, spec: FileSpec) -> None:
        """What the header alone tells: the name, the declared type, the declared size.
        Raises InvalidInput INVALID_FILE_NAME, FILE_TYPE_NOT_ALLOWED or FILE_TOO_LARGE."""
        display_name(spec.file_name)
        check_declared_type(spec.declared_type, spec.allowed_types)
        if spec.declared_size > spec.max_size:
            raise too_large(spec.max_size)

    async def take(
        self,
        chunks: AsyncIterable[bytes],
        spec: FileSpec,
        destination: Destination,
        retention_days: int = 0,
    ) -> StoredFile:
        """Receives a file and stores it in `destination` once every check passed. Raises
        InvalidInput (FILE_TOO_LARGE, FILE_EMPTY, FILE_TYPE_NOT_ALLOWED, FILE_TYPE_MISMATCH,
        FILE_POLYGLOT, ARCHIVE_BOMB, ARCHIVE_PATH_TRAVERSAL, ARCHIVE_INVALID, FILE_INFECTED,
        INVALID_FILE_NAME), Unavailable (SCANNER_UNAVAILABLE, STORAGE_UNAVAILABLE), or what the
        chunks raise; then nothing of the file is stored."""
        self.check(spec)
        shown = display_name(spec.file_name)
        retain_until = _retention(destination, retention_days)
        with storage_errors():
            await self.storage.ensure_buckets()
        # The scanner first: when it is down, not one byte is taken.
        intake = _Intake(spec, uuid.uuid4().hex, await self.scanner.open())
        try:
            async for chunk in chunks:
                await self._receive(intake, chunk)
            await self._finish(intake)
            target = self.bucket(destination)
            with storage_errors():
                await self.storage.copy(
                    self.storage.quarantine,
                    intake.key,
                    target,
                    intake.key,
                    content_type=intake.content_type or "",
                    sha256=intake.sha256.hexdigest(),
                    retain_until=retain_until,
                )
        except BaseException:
            await _shielded(self._discard(intake))
            raise
        await _shielded(self._drop_quarantined(intake.key))
        return StoredFile(
            bucket=target,
            key=intake.key,
            display_name=shown,
            content_type=intake.content_type or "",
            size=intake.size,
            sha256=intake.sha256.hexdigest(),
            retained_until=retain_until,
        )

    async def _receive(self, intake: _Intake, chunk: bytes) -> None:
        if not chunk:
            return
        intake.size += len(chunk)
        if intake.size > intake.spec.max_size:
            raise too_large(intake.spec.max_size)
        intake.sha256.update(chunk)
        if intake.zip_records is not None:
            intake.zip_records.feed(chunk)
        if intake.content_type is None:
            intake.head += chunk[: HEAD_SIZE - len(intake.head)]
            if len(intake.head) >= HEAD_SIZE:
                await self._type(intake)
        if intake.content_type is not None and intake.zip_records and intake.zip_records.found:
            raise polyglot_error()
        await intake.scan.feed(chunk)
        intake.buffer += chunk
        if len(intake.buffer) >= self.part_size:
            await self._send_part(intake)

    async def _type(self, intake: _Intake) -> None:
        found = await asyncio.to_thread(sniff, bytes(intake.head))
        check_found_type(found, intake.spec.declared_type, intake.spec.allowed_types)
        intake.content_type = found
        intake.head = bytearray()
        if is_zip_based(found):
            # ZIP records belong there; the archive is checked entry by entry instead.
            intake.zip_records = None

    async def _send_part(self, intake: _Intake) -> None:
        """Starts sending the buffer as the next part, after the previous one is in."""
        data = bytes(intake.buffer)
        intake.buffer = bytearray()
        with storage_errors():
            if intake.sending is not None:
                intake.parts.append(await intake.sending)
                intake.sending = None
            if intake.upload_id is None:
                intake.upload_id = await self.storage.begin_upload(
                    self.storage.quarantine, intake.key, intake.content_type or ""
                )
        intake.sending = asyncio.ensure_future(
            self.storage.upload_part(
                self.storage.quarantine,
                intake.key,
                intake.upload_id,
                len(intake.parts) + 1,
                data,
            )
        )

    async def _finish(self, intake: _Intake) -> None:
        if intake.size == 0:
            raise empty()
        if intake.content_type is None:
            await self._type(intake)
        if intake.zip_records is not None and intake.zip_records.finish():
            raise polyglot_error()
        # clamd scans while the last part goes in and the archive is checked; an archive refused
        # by our own checks is named as such (clamd would call a bomb "Heuristics.Limits...").
        verdict = asyncio.ensure_future(intake.scan.verdict())
        try:
            if intake.buffer:
                await self._send_part(intake)
            with storage_errors():
                if intake.sending is not None:
                    intake.parts.append(await intake.sending)
                    intake.sending = None
                assert intake.upload_id is not None  # a non-empty file has sent a part
                await self.storage.complete_upload(
                    self.storage.quarantine, intake.key, intake.upload_id, intake.parts
                )
                intake.completed = True
            if intake.content_type and is_zip_based(intake.content_type):
                await check_zip(
                    _Stored(self.storage, self.storage.quarantine, intake.key, intake.size),
                    self.archive_limits,
                )
            found = await verdict
        finally:
            # Cancels a verdict no longer needed (does nothing to one already read).
            verdict.cancel()
            with contextlib.suppress(BaseException):
                await verdict
        if not found.clean:
            log.warning("upload %s refused: %s found", intake.key, found.signature)
            raise infected()

    async def _discard(self, intake: _Intake) -> None:
        """Leaves nothing of a file that was not taken (its quarantine upload or object)."""
        await intake.scan.close()
        if intake.sending is not None:
            intake.sending.cancel()
            with contextlib.suppress(BaseException):
                await intake.sending
        try:
            if intake.completed:
                await self.storage.remove(self.storage.quarantine, intake.key)
            elif intake.upload_id is not None:
                await self.storage.abort_upload(
                    self.storage.quarantine, intake.key, intake.upload_id
                )
        except Exception:
            # The sweep aborts or removes it later.
            log.exception("could not discard upload %s", intake.key)

    async def _drop_quarantined(self, key: str) -> None:
        try:
            await self.storage.remove(self.storage.quarantine, key)
        except Exception:
            # The file is in place; the sweep removes the leftover.
            log.exception("could not remove %s from quarantine", key)

    # --- copies, reading, removing ---

    async def copy(
        self, source: StoredFile, destination: Destination, retention_days: int = 0
    ) -> StoredFile:
        """A server-side copy of a stored file into `destination` under a new key (into the
        copies bucket: with a GOVERNANCE retention of `retention_days`)."""
        retain_until = _retention(destination, retention_days)
        target = self.bucket(destination)
        key = uuid.uuid4().hex
        with storage_errors():
            await self.storage.ensure_buckets()
            version = await self._version(source.bucket, source.key)
            try:
                await self.storage.copy(
                    source.bucket,
                    source.key,
                    target,
                    key,
                    content_type=source.content_type,
                    sha256=source.sha256,
                    retain_until=retain_until,
                    source_version=version,
                )
            except Exception as error:
                if is_missing(error):
                    raise missing() from error
                raise
        return replace(source, bucket=target, key=key, retained_until=retain_until)

    async def read(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        """The stored bytes, in chunks of at most 256 KiB; a copy reads as it was retained
        (its first version), whatever was written over it since."""
        self._check_stored(bucket, key)
        with storage_errors():
            version = await self._version(bucket, key)
            try:
                stream = self.storage.stream(bucket, key, version)
                async for chunk in stream:
                    yield chunk
            except Exception as error:
                if is_missing(error):
                    raise missing() from error
                raise

    async def remove(self, bucket: str, key: str) -> None:
        """Removes a stored file; removing one that is gone does nothing. Raises Conflict
        COPY_RETAINED for a copy still under retention."""
        self._check_stored(bucket, key)
        with storage_errors():
            if bucket == self.storage.copies:
                now = datetime.now(UTC)
                for version in await self.storage.versions(bucket, key):
                    until = await self.storage.retained_until(bucket, key, version.version_id)
                    if until is not None and until > now:
                        raise Conflict(
                            "COPY_RETAINED",
                            _(
                                "This copy is retained until {until} and cannot be removed before",
                                until=until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                            ),
                        )
            await self.storage.remove(bucket, key)

    def _check_stored(self, bucket: str, key: str) -> None:
        if bucket not in (self.storage.wallet, self.storage.copies):
            raise ValueError(f"{bucket!r} is not a bucket of stored files")
        if not KEY.match(key):
            raise ValueError(f"{key!r} is not a stored file's key")

    async def _version(self, bucket: str, key: str) -> str | None:
        if bucket != self.storage.copies:
            return None
        versions = await self.storage.versions(bucket, key)
        if not versions:
            raise missing()
        return versions[0].version_id

    # --- sweeping ---

    async def sweep(
        self,
        referenced: Callable[[Sequence[str]], Awaitable[set[str]]],
        older_than: timedelta,
    ) -> SweepReport:
        """Removes what failures left behind, when older than `older_than`: incomplete multipart
        uploads, quarantine objects, and stored objects (wallet and copies buckets) whose key
        `referenced` (given a batch of keys, returns those a row refers to) does not report.
        Copies still under retention are reported, not removed."""
        cutoff = datetime.now(UTC) - older_than
        aborted = quarantined = orphans = 0
        retained: list[str] = []
        with storage_errors():
            await self.storage.ensure_buckets()
            for bucket in self.storage.buckets:
                for upload in await self.storage.pending_uploads(bucket):
                    if upload.initiated < cutoff:
                        await self.storage.abort_upload(bucket, upload.key, upload.upload_id)
                        aborted += 1
            async for item in self.storage.objects(self.storage.quarantine):
                if item.modified < cutoff:
                    await self.storage.remove(self.storage.quarantine, item.key)
                    quarantined += 1
            for bucket in (self.storage.wallet, self.storage.copies):
                batch: list[str] = []
                async for item in self.storage.objects(bucket):
                    if item.modified < cutoff:
                        batch.append(item.key)
                    if len(batch) >= SWEEP_BATCH:
                        orphans += await self._sweep_batch(bucket, batch, referenced, retained)
                        batch = []
                if batch:
                    orphans += await self._sweep_batch(bucket, batch, referenced, retained)
        report = SweepReport(aborted, quarantined, orphans, tuple(retained))
        log.info("file sweep: %s", report)
        return report

    async def _sweep_batch(
        self,
        bucket: str,
        keys: list[str],
        referenced: Callable[[Sequence[str]], Awaitable[set[str]]],
        retained: list[str],
    ) -> int:
        kept = await referenced(keys)
        removed = 0
        for key in keys:
            if key in kept:
                continue
            try:
                await self.remove(bucket, key)
            except Conflict:
                retained.append(key)
                continue
            except ValueError:
                log.warning("sweep: %s/%s is not a stored file's key; left alone", bucket, key)
                continue
            removed += 1
        return removed


def _retention(destination: Destination, days: int) -> datetime | None:
    if destination is not Destination.COPIES:
        return None
    if days < 1:
        raise ValueError("a copy is retained for at least one day")
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


async def _shielded(cleanup: Awaitable[None]) -> None:
    """Runs a cleanup to its end even when the task is being cancelled."""
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        # Cancelled again while cleaning: let the cleanup finish, then go on cancelling.
        await asyncio.wait([task])
        raise


@dataclass(frozen=True)
class _Stored:
    """A quarantined object read at any offset (the archive check's ranged reads)."""

    storage: Storage
    bucket: str
    key: str
    size: int

    async def read_at(self, offset: int, length: int) -> bytes:
        with storage_errors():
            return await self.storage.read_range(self.bucket, self.key, offset, length)
