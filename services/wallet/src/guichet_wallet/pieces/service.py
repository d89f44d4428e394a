"""The wallet's rules on its rows: whose a piece is, the limits, versions, copies, expiry notices.

Each function works in the caller's transaction and touches no object storage: the protocols in
`filing.py` and `copying.py` put objects in place before calling these, and remove the objects of
deleted rows after the commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guichet_kit.domain import Conflict, NotFound
from guichet_kit.i18n import Catalog
from guichet_kit.outbox import add_event
from guichet_wallet.files.pipeline import StoredFile
from guichet_wallet.pieces import events, repository
from guichet_wallet.pieces.catalogue import EDOCUMENT, PieceType, find_piece_type
from guichet_wallet.pieces.details import PieceDetails
from guichet_wallet.pieces.models import (
    Copy,
    FileVersion,
    Piece,
    PieceFile,
    ReceivedDocument,
)
from guichet_wallet.pieces.repository import ObjectRef

_ = Catalog("guichet_wallet")


class PieceNotFound(NotFound):
    # The same answer for a piece that does not exist and another owner's: existence is private.
    def __init__(self) -> None:
        super().__init__("PIECE_NOT_FOUND", _("There is no such piece in this wallet."))


class FileNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("FILE_NOT_FOUND", _("This piece has no such file."))


class VersionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("VERSION_NOT_FOUND", _("This file has no such version."))


class TooManyPieces(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "TOO_MANY_PIECES",
            _(
                "This wallet already holds {limit} pieces: delete one to add another.",
                limit=limit,
            ),
            metadata={"limit": str(limit)},
        )


class TooManyFiles(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "TOO_MANY_FILES",
            _("A piece holds at most {limit} files: replace one instead.", limit=limit),
            metadata={"limit": str(limit)},
        )


class LastFile(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "LAST_FILE_OF_PIECE",
            _("This is the piece's only file: delete the piece instead."),
        )


class ReceivedDocumentUnchangeable(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "RECEIVED_DOCUMENT_UNCHANGEABLE",
            _("A document received from an administration keeps its file: add a piece instead."),
        )


@dataclass(frozen=True)
class Limits:
    max_pieces: int
    max_files_per_piece: int


@dataclass(frozen=True)
class Sender:
    """Who sent an eDocument (F44), as messaging says."""

    administration: str
    administration_name: str
    signature_subject: str
    signed_at: datetime | None
    delivery_id: str
    # Set from the stored row: when it arrived and when it was first opened (None: unread).
    received_at: datetime | None = None
    opened_at: datetime | None = None


@dataclass(frozen=True)
class NewPiece:
    """The file starts a piece; `sender` is set for a received eDocument."""

    piece_type: PieceType
    details: PieceDetails
    sender: Sender | None = None


@dataclass(frozen=True)
class AddedFile:
    piece_id: uuid.UUID


@dataclass(frozen=True)
class NewVersion:
    piece_id: uuid.UUID | None  # None: whichever piece holds the file
    file_id: uuid.UUID


Target = NewPiece | AddedFile | NewVersion


@dataclass(frozen=True)
class Filed:
    """Where a file landed: its piece (files and versions loaded), the file and the version."""

    piece: Piece
    file: PieceFile
    version: FileVersion


class AlreadyReceived(Exception):
    """An eDocument's delivery was already filed (messaging retried): nothing new to store."""

    def __init__(self, piece_id: uuid.UUID) -> None:
        super().__init__(f"delivery already filed as piece {piece_id}")
        self.piece_id = piece_id


def piece_type_of(piece: Piece) -> PieceType:
    return find_piece_type(piece.type_code)


async def received_piece(session: AsyncSession, owner: str, delivery_id: str) -> Piece | None:
    """The piece an eDocument's delivery was already filed as (messaging may retry)."""
    earlier = await repository.received_by_delivery(session, delivery_id)
    if earlier is None:
        return None
    return await piece_of(session, owner, earlier.piece_id)


async def piece_of(session: AsyncSession, owner: str, piece_id: uuid.UUID) -> Piece:
    piece = await repository.find_piece(session, owner, piece_id)
    if piece is None:
        raise PieceNotFound
    return piece


async def pieces_of(session: AsyncSession, owner: str) -> list[Piece]:
    return await repository.pieces_of(session, owner)


async def check_target(
    session: AsyncSession, owner: str, target: Target, limits: Limits
) -> PieceType:
    """Whether a file may go where the header says, before a byte is read (and again under the
    owner's lock before the rows are written); returns the piece's type, whose file types apply."""
    if isinstance(target, NewPiece):
        # A received eDocument is never refused for the limit: it would be lost.
        counted = target.sender is None
        if counted and await repository.count_counted_pieces(session, owner) >= limits.max_pieces:
            raise TooManyPieces(limits.max_pieces)
        return target.piece_type
    if isinstance(target, AddedFile):
        piece = await piece_of(session, owner, target.piece_id)
        if piece.received:
            raise ReceivedDocumentUnchangeable
        if len(piece.files) >= limits.max_files_per_piece:
            raise TooManyFiles(limits.max_files_per_piece)
        return find_piece_type(piece.type_code)
    file = await repository.find_file(session, owner, target.file_id)
    if file is None or (target.piece_id is not None and file.piece_id != target.piece_id):
        raise FileNotFound
    piece = await piece_of(session, owner, file.piece_id)
    # What an administration sent stays as it was sent (its sender and seal speak for it).
    if piece.received:
        raise ReceivedDocumentUnchangeable
    return find_piece_type(piece.type_code)


def _version(file: PieceFile, number: int, stored: StoredFile) -> FileVersion:
    return FileVersion(
        id=uuid.uuid4(),
        file_id=file.id,
        number=number,
        bucket=stored.bucket,
        object_key=stored.key,
        display_name=stored.display_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
    )


async def _next_number(session: AsyncSession, file_id: uuid.UUID) -> int:
    highest = await session.scalar(
        select(func.max(FileVersion.number)).where(FileVersion.file_id == file_id)
    )
    return int(highest or 0) + 1


async def record(
    session: AsyncSession, owner: str, target: Target, stored: StoredFile, limits: Limits
) -> Filed:
    """Write the rows of a file whose object is in place, after checking the target again under
    the owner's lock: two uploads at once cannot make an 11th piece or a 5th file."""
    await repository.lock_owner(session, owner)
    if isinstance(target, NewPiece) and target.sender is not None:
        earlier = await repository.received_by_delivery(session, target.sender.delivery_id)
        if earlier is not None:
            raise AlreadyReceived(earlier.piece_id)
    await check_target(session, owner, target, limits)
    now = datetime.now(UTC)
    if isinstance(target, NewPiece):
        piece = Piece(
            id=uuid.uuid4(),
            owner=owner,
            type_code=target.piece_type.code,
            title=target.details.title,
            issued_on=target.details.issued_on,
            expires_on=target.details.expires_on,
            received=target.sender is not None,
            created_at=now,
            updated_at=now,
        )
        session.add(piece)
        await session.flush()
        if target.sender is not None:
            session.add(_received(piece.id, target.sender))
        file = PieceFile(id=uuid.uuid4(), piece_id=piece.id, position=1, created_at=now)
        number = 1
    elif isinstance(target, AddedFile):
        piece = await piece_of(session, owner, target.piece_id)
        taken = {existing.position for existing in piece.files}
        position = min(set(range(1, limits.max_files_per_piece + 1)) - taken)
        file = PieceFile(id=uuid.uuid4(), piece_id=piece.id, position=position, created_at=now)
        number = 1
    else:
        found = await repository.find_file(session, owner, target.file_id)
        if found is None:
            raise FileNotFound
        file = found
        piece = await piece_of(session, owner, file.piece_id)
        number = await _next_number(session, file.id)
    if number == 1:
        session.add(file)
        await session.flush()
    session.add(_version(file, number, stored))
    piece.updated_at = now
    await session.flush()
    return await _filed(session, owner, piece.id, file.id, number)


async def _filed(
    session: AsyncSession, owner: str, piece_id: uuid.UUID, file_id: uuid.UUID, number: int
) -> Filed:
    piece = await piece_of(session, owner, piece_id)
    file = next(f for f in piece.files if f.id == file_id)
    version = next(v for v in file.versions if v.number == number)
    return Filed(piece, file, version)


def _received(piece_id: uuid.UUID, sender: Sender) -> ReceivedDocument:
    return ReceivedDocument(
        piece_id=piece_id,
        administration=sender.administration,
        administration_name=sender.administration_name,
        signature_subject=sender.signature_subject,
        signed_at=sender.signed_at,
        delivery_id=sender.delivery_id,
    )


async def update_piece(
    session: AsyncSession, owner: str, piece_id: uuid.UUID, details: PieceDetails
) -> Piece:
    piece = await repository.find_piece(session, owner, piece_id, for_update=True)
    if piece is None:
        raise PieceNotFound
    piece.title = details.title
    piece.issued_on = details.issued_on
    piece.expires_on = details.expires_on
    piece.updated_at = datetime.now(UTC)
    await session.flush()
    return piece


async def delete_piece(session: AsyncSession, owner: str, piece_id: uuid.UUID) -> list[ObjectRef]:
    """Delete the piece's rows; returns its objects, to remove once this commits."""
    piece = await repository.find_piece(session, owner, piece_id, for_update=True)
    if piece is None:
        raise PieceNotFound
    objects = await repository.objects_of_pieces(session, [piece.id])
    await repository.delete_pieces(session, [piece.id])
    return objects


async def delete_file(
    session: AsyncSession, owner: str, piece_id: uuid.UUID, file_id: uuid.UUID
) -> tuple[Piece, list[ObjectRef]]:
    """Delete a file and all its versions; a piece keeps at least one file."""
    piece = await repository.find_piece(session, owner, piece_id, for_update=True)
    if piece is None:
        raise PieceNotFound
    if file_id not in {file.id for file in piece.files}:
        raise FileNotFound
    if len(piece.files) == 1:
        raise LastFile
    objects = await repository.delete_file(session, file_id)
    piece.updated_at = datetime.now(UTC)
    await session.flush()
    return await piece_of(session, owner, piece_id), objects


async def version_of(
    session: AsyncSession,
    owner: str,
    piece_id: uuid.UUID,
    file_id: uuid.UUID,
    version_id: uuid.UUID | None,
) -> FileVersion:
    version = await repository.find_version(session, owner, piece_id, file_id, version_id)
    if version is not None:
        return version
    # Say which part is missing, and never more than the owner may know.
    piece = await piece_of(session, owner, piece_id)
    if file_id not in {file.id for file in piece.files}:
        raise FileNotFound
    raise VersionNotFound


async def senders_of(session: AsyncSession, pieces: list[Piece]) -> dict[uuid.UUID, Sender]:
    found = await repository.senders_of(session, [piece.id for piece in pieces if piece.received])
    return {
        piece_id: Sender(
            row.administration,
            row.administration_name,
            row.signature_subject,
            row.signed_at,
            row.delivery_id,
            row.received_at,
            row.opened_at,
        )
        for piece_id, row in found.items()
    }


async def mark_opened(
    session: AsyncSession, owner: str, piece_id: uuid.UUID, opened_by: str
) -> bool:
    """The owner's eDocument was served whole: marked opened and EDocumentOpened written, in the
    caller's transaction, the first time only (the sender's read receipt depends on that event, so
    it goes through the outbox with the mark). Any other piece: nothing. Returns whether the event
    was written."""
    opened = await repository.mark_opened(session, owner, piece_id, datetime.now(UTC))
    if opened is None:
        return False
    add_event(
        session,
        events.EDOCUMENT_OPENED,
        events.edocument_opened(owner, opened, opened_by),
    )
    return True


async def purge_account(
    session: AsyncSession, deletion_id: str, national_id: str
) -> list[ObjectRef]:
    """F8: delete every piece of a deleted person (eDocuments included) and confirm in the same
    transaction; returns the objects to remove once it commits."""
    piece_ids = await repository.piece_ids_of(session, f"person:{national_id}")
    objects = await repository.objects_of_pieces(session, piece_ids)
    await repository.delete_pieces(session, piece_ids)
    add_event(session, events.ACCOUNT_PURGED, events.account_purged(deletion_id))
    return objects


async def announce_expiring(
    session: AsyncSession, today: date, notice_days: int, limit: int = 500
) -> int:
    """PieceExpiring for each piece expiring within `notice_days`, once per expiry date."""
    due = await repository.due_for_expiry_notice(
        session, today, today + timedelta(days=notice_days), limit
    )
    for piece in due:
        piece.expiry_notified_for = piece.expires_on
        add_event(session, events.PIECE_EXPIRING, events.piece_expiring(piece))
    await session.flush()
    return len(due)


def is_edocument(piece: Piece) -> bool:
    return piece.type_code == EDOCUMENT


async def copy_of(session: AsyncSession, copy_id: uuid.UUID, service: str) -> Copy:
    """A copy, only for the service that made it."""
    copy = await repository.find_copy(session, copy_id)
    if copy is None or copy.service != service:
        raise CopyNotFound
    return copy


class CopyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("COPY_NOT_FOUND", _("There is no such copy."))


async def record_copy(
    session: AsyncSession,
    *,
    owner: str,
    purpose: str,
    service: str,
    stored: StoredFile,
    source_version_id: uuid.UUID | None,
) -> Copy:
    if stored.retained_until is None:
        raise RuntimeError("a copy is stored with its retention")
    copy = Copy(
        id=uuid.uuid4(),
        owner=owner,
        purpose=purpose,
        source="piece" if source_version_id else "ingest",
        source_version_id=source_version_id,
        bucket=stored.bucket,
        object_key=stored.key,
        display_name=stored.display_name,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        retained_until=stored.retained_until,
        service=service,
        created_at=datetime.now(UTC),
    )
    session.add(copy)
    await session.flush()
    return copy
