"""What the wallet stores: pieces, their files and versions, eDocuments' senders, copies.

Objects live in MinIO; a row is committed only once its object is in place, and an object no row
names is removed by the sweep. Object keys are random (the pipeline's), never derived from a name
or an owner.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from guichet_kit.db import Base

# Whose a piece or a copy is: "person:<national id>" or "company:<space id>".
OWNER_LENGTH = 80


class Piece(Base):
    __tablename__ = "pieces"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(OWNER_LENGTH), index=True)
    type_code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    # The expiry date PieceExpiring was raised for: once per date, again if the date changes.
    expiry_notified_for: Mapped[date | None] = mapped_column(Date)
    # eDocuments (F44) are received, not chosen: they never count toward the space's limit.
    received: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    files: Mapped[list[PieceFile]] = relationship(
        back_populates="piece", lazy="raise", order_by="PieceFile.position"
    )

    # The expiry job looks only at pieces that have an expiry date.
    __table_args__ = (
        Index("ix_pieces_expires_on", "expires_on", postgresql_where=expires_on.isnot(None)),
    )


class PieceFile(Base):
    __tablename__ = "piece_files"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    piece_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pieces.id", ondelete="CASCADE"), index=True
    )
    # 1 to 4: the order the files are shown in (front, back, ...).
    position: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    piece: Mapped[Piece] = relationship(back_populates="files", lazy="raise")
    versions: Mapped[list[FileVersion]] = relationship(
        back_populates="file", lazy="raise", order_by="FileVersion.number.desc()"
    )

    __table_args__ = (
        UniqueConstraint("piece_id", "position"),
        CheckConstraint("position BETWEEN 1 AND 4", name="position"),
    )


class FileVersion(Base):
    __tablename__ = "file_versions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    file_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("piece_files.id", ondelete="CASCADE"), index=True
    )
    # 1 for the first content; a replacement is the next number, the previous ones stay.
    number: Mapped[int] = mapped_column()
    bucket: Mapped[str] = mapped_column(String(63))
    object_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Sanitized by the pipeline: for display and Content-Disposition only.
    display_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    file: Mapped[PieceFile] = relationship(back_populates="versions", lazy="raise")

    __table_args__ = (
        UniqueConstraint("file_id", "number"),
        CheckConstraint("number >= 1", name="number"),
        CheckConstraint("size >= 0", name="size"),
    )


class ReceivedDocument(Base):
    """Who sent an eDocument that arrived in a wallet (F44), beside its piece."""

    __tablename__ = "received_documents"

    piece_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pieces.id", ondelete="CASCADE"), primary_key=True
    )
    administration: Mapped[str] = mapped_column(String(40))
    administration_name: Mapped[str] = mapped_column(String(200))
    signature_subject: Mapped[str] = mapped_column(String(500))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The eDelivery's id: a delivery retried by messaging lands once.
    delivery_id: Mapped[str] = mapped_column(String(100), unique=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # When its file was first served whole (the read receipt's source); None while unread.
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Copy(Base):
    """An immutable copy held for a platform service (a request's attachment, a decision), in the
    object-locked bucket until `retained_until`."""

    __tablename__ = "copies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(OWNER_LENGTH), index=True)
    # What the copy serves, e.g. the request's reference.
    purpose: Mapped[str] = mapped_column(String(200))
    # "ingest": streamed in by the service; "piece": copied from a version of a wallet piece.
    source: Mapped[str] = mapped_column(String(20))
    source_version_id: Mapped[uuid.UUID | None] = mapped_column()
    bucket: Mapped[str] = mapped_column(String(63))
    object_key: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    retained_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The certificate name of the service that made it: the only one that reads it.
    service: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("source IN ('ingest', 'piece')", name="source"),
        CheckConstraint("size >= 0", name="size"),
    )
