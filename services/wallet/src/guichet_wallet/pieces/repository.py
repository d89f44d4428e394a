"""Every query the wallet makes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, select, text, union, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from guichet_wallet.pieces.models import Copy, FileVersion, Piece, PieceFile, ReceivedDocument

# (bucket, object key) of a stored object.
ObjectRef = tuple[str, str]

_WITH_FILES = selectinload(Piece.files).selectinload(PieceFile.versions)


async def lock_owner(session: AsyncSession, owner: str) -> None:
    """Serialise the changes of one owner's wallet until the transaction ends: two uploads at
    once cannot both take the 10th place."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:owner, 0))"), {"owner": owner}
    )


async def count_counted_pieces(session: AsyncSession, owner: str) -> int:
    """The pieces that count toward the limit: received eDocuments do not."""
    found = await session.scalar(
        select(func.count())
        .select_from(Piece)
        .where(Piece.owner == owner, Piece.received.is_(False))
    )
    return int(found or 0)


async def pieces_of(session: AsyncSession, owner: str) -> list[Piece]:
    rows = await session.scalars(
        select(Piece)
        .where(Piece.owner == owner)
        .options(_WITH_FILES)
        .order_by(Piece.created_at.desc(), Piece.id)
    )
    return list(rows)


async def find_piece(
    session: AsyncSession, owner: str, piece_id: uuid.UUID, *, for_update: bool = False
) -> Piece | None:
    """The piece with its files and versions, only if `owner` owns it."""
    query = (
        select(Piece)
        .where(Piece.id == piece_id, Piece.owner == owner)
        .options(_WITH_FILES)
        .execution_options(populate_existing=True)  # fresh after this transaction's inserts
    )
    if for_update:
        query = query.with_for_update(of=Piece)
    piece: Piece | None = await session.scalar(query)
    return piece


async def find_file(session: AsyncSession, owner: str, file_id: uuid.UUID) -> PieceFile | None:
    """The file with its versions, only if its piece is `owner`'s."""
    found: PieceFile | None = await session.scalar(
        select(PieceFile)
        .join(Piece, Piece.id == PieceFile.piece_id)
        .where(PieceFile.id == file_id, Piece.owner == owner)
        .options(selectinload(PieceFile.versions))
    )
    return found


async def find_version(
    session: AsyncSession,
    owner: str,
    piece_id: uuid.UUID,
    file_id: uuid.UUID,
    version_id: uuid.UUID | None,
) -> FileVersion | None:
    """A version of a file of an `owner`'s piece: the given one, or the newest."""
    query = (
        select(FileVersion)
        .join(PieceFile, PieceFile.id == FileVersion.file_id)
        .join(Piece, Piece.id == PieceFile.piece_id)
        .where(FileVersion.file_id == file_id, Piece.id == piece_id, Piece.owner == owner)
    )
    if version_id is not None:
        query = query.where(FileVersion.id == version_id)
    else:
        query = query.order_by(FileVersion.number.desc()).limit(1)
    version: FileVersion | None = await session.scalar(query)
    return version


async def objects_of_pieces(
    session: AsyncSession, piece_ids: Sequence[uuid.UUID]
) -> list[ObjectRef]:
    rows = await session.execute(
        select(FileVersion.bucket, FileVersion.object_key)
        .join(PieceFile, PieceFile.id == FileVersion.file_id)
        .where(PieceFile.piece_id.in_(piece_ids))
    )
    return [(bucket, key) for bucket, key in rows]


async def delete_pieces(session: AsyncSession, piece_ids: Sequence[uuid.UUID]) -> None:
    # Files, versions and eDocuments' senders go with them (ON DELETE CASCADE).
    await session.execute(delete(Piece).where(Piece.id.in_(piece_ids)))


async def delete_file(session: AsyncSession, file_id: uuid.UUID) -> list[ObjectRef]:
    rows = await session.execute(
        select(FileVersion.bucket, FileVersion.object_key).where(FileVersion.file_id == file_id)
    )
    objects = [(bucket, key) for bucket, key in rows]
    await session.execute(delete(PieceFile).where(PieceFile.id == file_id))
    return objects


async def piece_ids_of(session: AsyncSession, owner: str) -> list[uuid.UUID]:
    return list(await session.scalars(select(Piece.id).where(Piece.owner == owner)))


async def referenced_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of `keys` a version or a copy names (the sweep removes the others)."""
    if not keys:
        return set()
    query = union(
        select(FileVersion.object_key).where(FileVersion.object_key.in_(keys)),
        select(Copy.object_key).where(Copy.object_key.in_(keys)),
    )
    return set((await session.execute(query)).scalars())


async def due_for_expiry_notice(
    session: AsyncSession, today: date, horizon: date, limit: int
) -> list[Piece]:
    """Pieces expiring between today and `horizon` not yet announced for that date; locked, so
    two workers never announce the same piece."""
    rows = await session.scalars(
        select(Piece)
        .where(
            Piece.expires_on.is_not(None),
            Piece.expires_on >= today,
            Piece.expires_on <= horizon,
            Piece.expiry_notified_for.is_distinct_from(Piece.expires_on),
        )
        .order_by(Piece.expires_on, Piece.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def received_by_delivery(session: AsyncSession, delivery_id: str) -> ReceivedDocument | None:
    found: ReceivedDocument | None = await session.scalar(
        select(ReceivedDocument).where(ReceivedDocument.delivery_id == delivery_id)
    )
    return found


async def senders_of(
    session: AsyncSession, piece_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ReceivedDocument]:
    if not piece_ids:
        return {}
    rows = await session.scalars(
        select(ReceivedDocument).where(ReceivedDocument.piece_id.in_(piece_ids))
    )
    return {row.piece_id: row for row in rows}


async def mark_opened(
    session: AsyncSession, owner: str, piece_id: uuid.UUID, at: datetime
) -> ReceivedDocument | None:
    """Sets `opened_at` on the owner's unopened eDocument (one UPDATE: two downloads at once mark
    it once); None when the piece is no eDocument of theirs or was opened before."""
    opened: ReceivedDocument | None = await session.scalar(
        update(ReceivedDocument)
        .where(
            ReceivedDocument.piece_id == piece_id,
            ReceivedDocument.opened_at.is_(None),
            ReceivedDocument.piece_id.in_(select(Piece.id).where(Piece.owner == owner)),
        )
        .values(opened_at=at)
        .returning(ReceivedDocument)
    )
    return opened


async def find_copy(session: AsyncSession, copy_id: uuid.UUID) -> Copy | None:
    found: Copy | None = await session.get(Copy, copy_id)
    return found
