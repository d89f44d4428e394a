"""The wallet on the real PostgreSQL, MinIO and ClamAV: a migrated database per xdist worker,
emptied before each test, and the file pipeline on buckets of this worker's own prefix.

The servicers are called in-process as the gRPC server would call them: a citizen's verified
token is set with `guichet_kit.auth.set_caller`, as the kit's interceptor does; a platform service
is the common name of the client certificate its mutual TLS handshake verified (`ServiceCall`).
Streams are async iterators of the request messages, as grpc.aio hands them to the servicer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet.wallet.v1 import wallet_pb2 as pb
from guichet_kit.auth import LevelOfAssurance, Principal, set_caller
from guichet_kit.errors import ServiceError
from guichet_kit.grpc_client import insecure_channel
from guichet_kit.mandates import MandateChecker
from guichet_kit.national_id import make_national_id
from guichet_kit.outbox import OutboxMessage
from guichet_testkit import worker_name
from guichet_testkit.db import migrated_sessions, row_counts, service_metadata, truncate_tables
from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces.copying import Copying
from guichet_wallet.pieces.filing import Filing
from guichet_wallet.pieces.grpc import WalletServicer
from guichet_wallet.pieces.service import Limits
from guichet_wallet.platform.grpc import FileServicer

SERVICE_DIR = Path(__file__).resolve().parents[2]
TABLES = service_metadata("guichet_wallet")
LIMITS = Limits(max_pieces=10, max_files_per_piece=4)
MAX_FILE_BYTES = 2_000_000
CHUNK = 64 * 1024

ANNE = make_national_id(date(1980, 1, 1), 101).value
BOB = make_national_id(date(1975, 6, 6), 202).value


@pytest.fixture(scope="session")
async def wallet_database(
    infra: dict[str, str],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    name = f"wallet_pieces_test_{worker_name()}"
    async with migrated_sessions(infra, SERVICE_DIR, name) as sessions:
        yield sessions


@pytest.fixture(scope="session")
async def pipeline(infra: dict[str, str]) -> AsyncIterator[FilePipeline]:
    files = FilePipeline(
        endpoint=infra["GUICHET_MINIO_ENDPOINT"],
        access_key=infra["GUICHET_MINIO_ACCESS_KEY"],
        secret_key=infra["GUICHET_MINIO_SECRET_KEY"],
        secure=False,
        bucket_prefix=f"wpieces-{re.sub(r'[^a-z0-9]', '', worker_name().lower())[:12]}",
        clamav_address=infra["GUICHET_CLAMAV_ADDRESS"],
    )
    async with files:
        yield files
        await empty_buckets(files)
        for bucket in files.storage.buckets:
            await files.storage.client.remove_bucket(bucket)


@pytest.fixture
async def sessions(
    wallet_database: async_sessionmaker[AsyncSession],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await truncate_tables(wallet_database, TABLES)
    set_caller(None)
    yield wallet_database
    set_caller(None)


@pytest.fixture
def counts(
    sessions: async_sessionmaker[AsyncSession],
) -> Callable[[], Awaitable[dict[str, int]]]:
    """Rows per table (the outbox's too): a refusal must leave them as they were."""
    return lambda: row_counts(sessions, TABLES)


async def stored(pipeline: FilePipeline) -> set[str]:
    """Every object and every unfinished upload of the pipeline's buckets, as `bucket/key`."""
    found: set[str] = set()
    for bucket in pipeline.storage.buckets:
        found.update([f"{bucket}/{item.key}" async for item in pipeline.storage.objects(bucket)])
        found.update(
            f"{bucket}/{upload.key} (upload)"
            for upload in await pipeline.storage.pending_uploads(bucket)
        )
    return found


@pytest.fixture
def objects(pipeline: FilePipeline) -> Callable[[], Awaitable[set[str]]]:
    return lambda: stored(pipeline)


@dataclass
class Wakes:
    """The outbox relay's wake-up: called after a commit that wrote events, and only then."""

    count: int = 0

    def __call__(self) -> None:
        self.count += 1


async def empty_buckets(pipeline: FilePipeline) -> None:
    for bucket in pipeline.storage.buckets:
        for upload in await pipeline.storage.pending_uploads(bucket):
            await pipeline.storage.abort_upload(bucket, upload.key, upload.upload_id)
        await pipeline.storage.remove_all(bucket, bypass_retention=True)


@pytest.fixture
async def filing(sessions: async_sessionmaker[AsyncSession], pipeline: FilePipeline) -> Filing:
    await empty_buckets(pipeline)
    return Filing(sessions, pipeline, LIMITS, MAX_FILE_BYTES)


@pytest.fixture
async def wallet(filing: Filing) -> AsyncIterator[WalletServicer]:
    # Only a company's or a relation's context asks identity; these tests act in private (the
    # journeys in tests/e2e act for others, with identity running).
    async with insecure_channel("127.0.0.1:1", timeout=1) as nowhere:
        yield WalletServicer(filing, MandateChecker(nowhere), Wakes())


@pytest.fixture
def files(filing: Filing) -> FileServicer:
    return FileServicer(Copying(filing, default_retention_days=1), Wakes())


@dataclass
class ServiceCall:
    """The servicer context of a call whose client certificate mutual TLS verified (`None`: a
    call without one, as on the gateway's port)."""

    name: str | None
    metadata: list[tuple[str, str]] = field(default_factory=list)

    def auth_context(self) -> dict[str, list[bytes]]:
        return {"x509_common_name": [self.name.encode()]} if self.name else {}

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.metadata


def as_service(name: str | None) -> Any:
    return ServiceCall(name)


# WalletService never reads the gRPC context.
NO_CONTEXT: Any = None


def citizen(national_id: str) -> Principal:
    return Principal(
        subject=f"kc-{uuid.uuid4().hex[:8]}",
        level=LevelOfAssurance.LOW,
        national_id=national_id,
        email="someone@example.org",
        name="Someone",
        token="not-checked-in-process",
    )


@pytest.fixture
def signed_in() -> Iterator[Callable[[str], Principal]]:
    """Make the person with this national id the caller, in their private context."""

    def sign_in(national_id: str) -> Principal:
        principal = citizen(national_id)
        set_caller(principal)
        return principal

    yield sign_in
    set_caller(None)


@dataclass(frozen=True)
class Refused:
    code: grpc.StatusCode
    reason: str
    fields: tuple[str, ...] = ()


async def refusal(call: Awaitable[object]) -> Refused:
    """What the caller would read from the status of a refused call: its code and reason."""
    with pytest.raises(ServiceError) as refused:
        await call
    error = refused.value
    return Refused(error.code, error.reason, tuple(f.field for f in error.field_errors))


async def stream_refusal(replies: AsyncIterator[Any]) -> Refused:
    async def drain() -> None:
        async for _ in replies:
            pass

    return await refusal(drain())


# --- files built in the test ---


def pdf(text: str = "a piece", padding: int = 0) -> bytes:
    """A small, well-formed PDF; `padding` bytes of comment lines make it bigger."""
    body = (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
        + f"% {text}\n".encode()
    )
    line = b"% " + b"x" * 77 + b"\n"
    return body + line * (padding // len(line)) + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\0" + b"\xff\x00\x00" * 4 for _ in range(4))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


# --- requests ---


def new_piece(
    type_code: str = "passport",
    title: str = "",
    *,
    file_name: str = "scan.pdf",
    content_type: str = "application/pdf",
    issued_on: str = "",
    expires_on: str = "",
    size: int = 0,
) -> pb.UploadHeader:
    return pb.UploadHeader(
        new_piece=pb.NewPiece(
            type_code=type_code, title=title, issued_on=issued_on, expires_on=expires_on
        ),
        file_name=file_name,
        declared_content_type=content_type,
        declared_size=size,
    )


def to_piece(
    piece_id: str, file_name: str = "back.png", content_type: str = "image/png"
) -> pb.UploadHeader:
    return pb.UploadHeader(
        piece_id=piece_id, file_name=file_name, declared_content_type=content_type
    )


def replacing(
    file_id: str, file_name: str = "renewed.pdf", content_type: str = "application/pdf"
) -> pb.UploadHeader:
    return pb.UploadHeader(
        replaces_file_id=file_id, file_name=file_name, declared_content_type=content_type
    )


@dataclass
class Chunks:
    """The data messages of an upload; `read` tells whether the servicer asked for any."""

    data: bytes
    read: int = 0

    async def messages(self) -> AsyncIterator[pb.UploadFileRequest]:
        for start in range(0, len(self.data), CHUNK):
            self.read += 1
            yield pb.UploadFileRequest(chunk=self.data[start : start + CHUNK])


def upload_stream(header: pb.UploadHeader, chunks: Chunks) -> AsyncIterator[pb.UploadFileRequest]:
    async def stream() -> AsyncIterator[pb.UploadFileRequest]:
        yield pb.UploadFileRequest(header=header)
        async for message in chunks.messages():
            yield message

    return stream()


async def upload(
    wallet: WalletServicer, header: pb.UploadHeader, data: bytes
) -> pb.UploadFileResponse:
    return await wallet.UploadFile(upload_stream(header, Chunks(data)), NO_CONTEXT)


async def download(
    wallet: WalletServicer, piece_id: str, file_id: str, version_id: str = ""
) -> tuple[pb.DownloadHeader, bytes]:
    request = pb.DownloadFileRequest(piece_id=piece_id, file_id=file_id, version_id=version_id)
    replies = [reply async for reply in wallet.DownloadFile(request, NO_CONTEXT)]
    assert replies[0].WhichOneof("part") == "header"
    assert all(reply.WhichOneof("part") == "chunk" for reply in replies[1:])
    return replies[0].header, b"".join(reply.chunk for reply in replies[1:])


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, bytes]]:
    """(subject, payload) of the events written so far, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.subject, row.payload) for row in rows]
