"""Immutable copies for platform services (F42): a request's attachment streamed in, a wallet
piece attached to a request, and a request's attachment copied into its owner's wallet.

Copies live in the object-locked bucket (governance mode) until their retention ends, so nobody
can change or delete them before; the row is written only once the object is in place. A copy is
read only by the service that made it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog

from guichet_kit.db import transaction
from guichet_kit.domain import InvalidInput
from guichet_kit.i18n import Catalog
from guichet_wallet.files.pipeline import Destination, FileSpec, StoredFile
from guichet_wallet.pieces import service
from guichet_wallet.pieces.catalogue import DOCUMENTS, PieceType
from guichet_wallet.pieces.details import PieceDetails
from guichet_wallet.pieces.filing import FileHeader, Filing
from guichet_wallet.pieces.models import Copy
from guichet_wallet.pieces.service import Filed, NewPiece

log = structlog.get_logger(__name__)
_ = Catalog("guichet_wallet")


@dataclass(frozen=True)
class CopyRequest:
    owner: str
    purpose: str
    service: str
    retention_days: int


@dataclass(frozen=True)
class Copying:
    filing: Filing
    default_retention_days: int

    def _days(self, asked: int) -> int:
        return asked if asked > 0 else self.default_retention_days

    def check_ingest(self, header: FileHeader, allowed: frozenset[str]) -> FileSpec:
        spec = FileSpec(
            file_name=header.file_name,
            declared_type=header.declared_type,
            declared_size=max(header.declared_size, 0),
            allowed_types=allowed or DOCUMENTS,
            max_size=self.filing.max_file_bytes,
        )
        self.filing.pipeline.check(spec)
        return spec

    async def ingest(
        self, request: CopyRequest, spec: FileSpec, chunks: AsyncIterator[bytes]
    ) -> Copy:
        pipeline = self.filing.pipeline
        stored = await pipeline.take(
            chunks, spec, Destination.COPIES, retention_days=self._days(request.retention_days)
        )
        return await self._record(request, stored, None)

    async def copy_piece(
        self,
        request: CopyRequest,
        piece_id: uuid.UUID,
        file_id: uuid.UUID,
        version_id: uuid.UUID | None,
    ) -> Copy:
        """A version of the owner's piece (the calling service checked that the person acts for
        that owner), as an immutable copy for a request."""
        async with self.filing.sessions() as session:
            version = await service.version_of(
                session, request.owner, piece_id, file_id, version_id
            )
        source = StoredFile(
            bucket=version.bucket,
            key=version.object_key,
            display_name=version.display_name,
            content_type=version.content_type,
            size=version.size,
            sha256=version.sha256,
        )
        stored = await self.filing.pipeline.copy(
            source, Destination.COPIES, retention_days=self._days(request.retention_days)
        )
        return await self._record(request, stored, version.id)

    async def _record(
        self, request: CopyRequest, stored: StoredFile, source_version_id: uuid.UUID | None
    ) -> Copy:
        try:
            async with transaction(self.filing.sessions) as session:
                return await service.record_copy(
                    session,
                    owner=request.owner,
                    purpose=request.purpose,
                    service=request.service,
                    stored=stored,
                    source_version_id=source_version_id,
                )
        except BaseException:
            # Locked until its retention ends, the object may refuse to go; it then stays,
            # unnamed by any row and unreadable through the wallet, until it can be swept.
            await asyncio.shield(self.filing.discard(stored))
            raise

    async def copy_into_wallet(
        self,
        copy_id: uuid.UUID,
        owner: str,
        calling_service: str,
        piece_type: PieceType,
        details: PieceDetails,
    ) -> Filed:
        """A request's attachment (a copy this service made for `owner`) as a new piece of the
        owner's wallet; it counts toward the limit like any piece the person adds."""
        async with self.filing.sessions() as session:
            copy = await service.copy_of(session, copy_id, calling_service)
        if copy.owner != owner:
            raise service.CopyNotFound
        target = NewPiece(piece_type, details)
        async with self.filing.sessions() as session:
            await service.check_target(session, owner, target, self.filing.limits)
        if copy.content_type not in piece_type.allowed_content_types:
            raise InvalidInput(
                "FILE_TYPE_NOT_ALLOWED",
                _("This type of piece does not accept this type of file."),
            )
        source = StoredFile(
            bucket=copy.bucket,
            key=copy.object_key,
            display_name=copy.display_name,
            content_type=copy.content_type,
            size=copy.size,
            sha256=copy.sha256,
        )
        stored = await self.filing.pipeline.copy(source, Destination.WALLET)
        return await self.filing.record(owner, target, stored)
