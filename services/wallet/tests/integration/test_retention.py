"""The wallet's retention on real PostgreSQL and MinIO, the clock moved forward: eDocuments read
long enough ago go with their objects (no orphan object, no row naming a removed one); unread
eDocuments and the person's own pieces stay; a second run changes nothing; batches."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import transaction
from guichet_kit.infra import postgres_url
from guichet_kit.retention import Policy, in_batches
from guichet_testkit import worker_name
from guichet_wallet.files.pipeline import FilePipeline
from guichet_wallet.pieces.grpc import WalletServicer
from guichet_wallet.pieces.models import FileVersion, Piece, ReceivedDocument
from guichet_wallet.platform.grpc import FileServicer
from guichet_wallet.retention import read_edocuments

from .conftest import ANNE, as_service, new_piece, pdf, upload
from .test_file_service import edocument

TWO_YEARS = Policy("read_edocuments", timedelta(days=730), batch=2)


async def _receive(files: FileServicer, count: int, name: str) -> list[uuid.UUID]:
    received = []
    for number in range(count):
        reply = await files.ReceiveDocument(
            edocument(pdf(f"{name} {number}"), delivery_id=f"DLV-{name}-{number}"),
            as_service("messaging"),
        )
        received.append(uuid.UUID(reply.piece.piece_id))
    return received


async def _open(
    sessions: async_sessionmaker[AsyncSession], piece_ids: list[uuid.UUID], at: datetime
) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            update(ReceivedDocument)
            .where(ReceivedDocument.piece_id.in_(piece_ids))
            .values(opened_at=at)
        )


async def _pieces(sessions: async_sessionmaker[AsyncSession]) -> set[uuid.UUID]:
    async with sessions() as session:
        return set(await session.scalars(select(Piece.id)))


async def _named_objects(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        rows = await session.execute(select(FileVersion.bucket, FileVersion.object_key))
        return {f"{bucket}/{key}" for bucket, key in rows}


async def test_edocuments_read_long_ago_go_with_their_objects(
    files: FileServicer,
    wallet: WalletServicer,
    signed_in: Callable[[str], object],
    sessions: async_sessionmaker[AsyncSession],
    pipeline: FilePipeline,
    objects: Callable[[], Awaitable[set[str]]],
) -> None:
    read_early = await _receive(files, 3, "early")
    read_later = await _receive(files, 2, "later")
    unread = await _receive(files, 1, "unread")
    signed_in(ANNE)
    own = uuid.UUID((await upload(wallet, new_piece(title="passport"), pdf("own"))).piece.piece_id)
    opened = datetime.now(UTC)
    await _open(sessions, read_early, opened - timedelta(days=10))
    await _open(sessions, read_later, opened)
    assert await objects() == await _named_objects(sessions)
    assert len(await objects()) == 7
    purge = in_batches(sessions, read_edocuments(pipeline))

    # Two years after the later reads less 5 days: only those read 10 days earlier are past it.
    assert await purge(TWO_YEARS, opened + timedelta(days=725)) == 3
    assert await _pieces(sessions) == {*read_later, *unread, own}
    assert await objects() == await _named_objects(sessions), "no orphan, no dangling row"
    assert len(await objects()) == 4
    assert await purge(TWO_YEARS, opened + timedelta(days=725)) == 0, "a second run: nothing"
    assert len(await objects()) == 4

    assert await purge(TWO_YEARS, opened + timedelta(days=731)) == 2
    assert await _pieces(sessions) == {*unread, own}, "unread and own pieces stay at any age"
    assert await objects() == await _named_objects(sessions)
    assert len(await objects()) == 2
    assert await purge(TWO_YEARS, opened + timedelta(days=5000)) == 0
    assert await _pieces(sessions) == {*unread, own}


async def test_the_command_purges_read_edocuments_with_their_objects(
    files: FileServicer,
    sessions: async_sessionmaker[AsyncSession],
    pipeline: FilePipeline,
    objects: Callable[[], Awaitable[set[str]]],
    infra: dict[str, str],
) -> None:
    old, young = await _receive(files, 1, "old"), await _receive(files, 1, "young")
    now = datetime.now(UTC)
    await _open(sessions, old, now - timedelta(days=731))
    await _open(sessions, young, now - timedelta(days=729))
    pki = Path(infra["GUICHET_PKI_DIR"])
    env = {
        **os.environ,
        "WALLET_ENVIRONMENT": "test",
        "WALLET_DATABASE_URL": postgres_url(infra, f"wallet_pieces_test_{worker_name()}"),
        "WALLET_NATS_URL": infra["GUICHET_NATS_URL"],
        "WALLET_TLS_CERTIFICATE": str(pki / "services" / "wallet.crt"),
        "WALLET_TLS_PRIVATE_KEY": str(pki / "services" / "wallet.key"),
        "WALLET_SERVICES_CA": str(pki / "ca.crt"),
        "WALLET_KEYCLOAK_ISSUER": infra["GUICHET_KEYCLOAK_ISSUER"],
        "WALLET_MINIO_ENDPOINT": infra["GUICHET_MINIO_ENDPOINT"],
        "WALLET_MINIO_ACCESS_KEY": infra["GUICHET_MINIO_ACCESS_KEY"],
        "WALLET_MINIO_SECRET_KEY": infra["GUICHET_MINIO_SECRET_KEY"],
        "WALLET_BUCKET_PREFIX": pipeline.storage.quarantine.removesuffix("-quarantine"),
        "WALLET_CLAMAV_ADDRESS": infra["GUICHET_CLAMAV_ADDRESS"],
        # The deployment's dead letters are not this test's.
        "GUICHET_RETENTION_DEAD_LETTER_DAYS": "0",
    }
    command = [sys.executable, "-m", "guichet_wallet", "retention"]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()

    assert process.returncode == 0, output.decode()
    assert await _pieces(sessions) == set(young)
    assert await objects() == await _named_objects(sessions)
    assert len(await objects()) == 1
