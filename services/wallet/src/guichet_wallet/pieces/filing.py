"""Filing a file into a wallet: the one sequence every file of a piece takes, and its compensation.

1. Check where the file goes (the piece exists and is the owner's, the limits, the type's file
   types) and the header (name, declared type and size) before reading a byte.
2. The file pipeline streams the bytes into quarantine, checks and scans them, and puts the clean
   object in the wallet bucket (`FilePipeline.take`); any refusal there stores nothing.
3. One transaction writes the rows, checking the target again under the owner's lock.
4. If that transaction fails (or the call is cancelled), the object is removed — unless a row
   names it after all (a commit whose answer was lost). If the process dies between 2 and 4, the
   object has no row and the sweep removes it.

Deleting goes the other way: rows first, objects after the commit (`removals.py`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from guichet_kit.db import transaction
from guichet_wallet.files.pipeline import Destination, FilePipeline, FileSpec, StoredFile
from guichet_wallet.pieces import repository, service
from guichet_wallet.pieces.models import Piece
from guichet_wallet.pieces.removals import remove_objects
from guichet_wallet.pieces.service import AlreadyReceived, Filed, Limits, Target

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FileHeader:
    """What the client says of a file before sending it."""

    file_name: str
    declared_type: str
    declared_size: int


@dataclass(frozen=True)
class Filing:
    """The wallet's side of the pipeline: its storage, its limits, its database."""

    sessions: async_sessionmaker[AsyncSession]
    pipeline: FilePipeline
    limits: Limits
    max_file_bytes: int

    async def check(self, owner: str, target: Target, header: FileHeader) -> FileSpec:
        """Step 1: refuse what can be refused from the header alone."""
        async with self.sessions() as session:
            piece_type = await service.check_target(session, owner, target, self.limits)
        spec = FileSpec(
            file_name=header.file_name,
            declared_type=header.declared_type,
            declared_size=max(header.declared_size, 0),
            allowed_types=piece_type.allowed_content_types,
            max_size=self.max_file_bytes,
        )
        self.pipeline.check(spec)
        return spec

    async def file(
        self, owner: str, target: Target, spec: FileSpec, chunks: AsyncIterator[bytes]
    ) -> Filed:
        """Steps 2 to 4, for a target and a header `check` accepted."""
        stored = await self.pipeline.take(chunks, spec, Destination.WALLET)
        return await self.record(owner, target, stored)

    async def record(self, owner: str, target: Target, stored: StoredFile) -> Filed:
        """Steps 3 and 4, for an object already in the wallet bucket."""
        try:
            async with transaction(self.sessions) as session:
                return await service.record(session, owner, target, stored, self.limits)
        except AlreadyReceived as received:
            await asyncio.shield(self.discard(stored))
            async with self.sessions() as session:
                piece = await service.piece_of(session, owner, received.piece_id)
            file = piece.files[0]
            return Filed(piece, file, file.versions[0])
        except BaseException:
            await asyncio.shield(self.discard(stored))
            raise

    async def discard(self, stored: StoredFile) -> None:
        """Remove an object whose rows were not written; a row naming it keeps it."""
        try:
            async with self.sessions() as session:
                if await repository.referenced_keys(session, [stored.key]):
                    return
        except Exception:
            log.warning("wallet.discard_unchecked", key=stored.key, exc_info=True)
            return  # the database is unreachable: the sweep decides later, with the rows
        await remove_objects(self.pipeline, [(stored.bucket, stored.key)])


async def delete_piece(filing: Filing, owner: str, piece_id: uuid.UUID) -> None:
    async with transaction(filing.sessions) as session:
        objects = await service.delete_piece(session, owner, piece_id)
    await remove_objects(filing.pipeline, objects)


async def delete_file(filing: Filing, owner: str, piece_id: uuid.UUID, file_id: uuid.UUID) -> Piece:
    async with transaction(filing.sessions) as session:
        piece, objects = await service.delete_file(session, owner, piece_id, file_id)
    await remove_objects(filing.pipeline, objects)
    return piece
