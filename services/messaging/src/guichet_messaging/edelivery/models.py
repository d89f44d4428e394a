"""A delivery is one eDocument filed in a person's wallet; its receipts are the sealed proofs the
sending administration keeps (delivered, read, unread after the delay)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from guichet_kit.db import Base


class ReceiptKind(StrEnum):
    DELIVERED = "delivered"
    READ = "read"
    UNREAD = "unread"


class Delivery(Base):
    __tablename__ = "edeliveries"
    __table_args__ = (
        # The administration's delivery id: a push retried lands once.
        UniqueConstraint("administration", "delivery_id"),
        # The unread job's question: delivered, not read, not yet reported unread.
        Index(
            "ix_edeliveries_unread",
            "delivered_at",
            postgresql_where=text("read_at IS NULL AND unread_reported_at IS NULL"),
        ),
        Index("ix_edeliveries_addressee", "addressee"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    administration: Mapped[str] = mapped_column(String(40))
    delivery_id: Mapped[str] = mapped_column(String(80))
    # The person's national id.
    addressee: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # The wallet's piece the eDocument became.
    piece_id: Mapped[uuid.UUID]
    delivered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unread_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Receipt(Base):
    __tablename__ = "edelivery_receipts"
    __table_args__ = (
        # One receipt of each kind per delivery (a read twice is read once).
        UniqueConstraint("delivery", "kind"),
        # The administration's listing and stream, in issue order.
        Index("ix_edelivery_receipts_administration", "administration", "number"),
    )

    # Issue order: the cursor of an administration's receipts stream.
    number: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    delivery: Mapped[uuid.UUID] = mapped_column(ForeignKey("edeliveries.id"))
    # The sender (denormalised: a receipt is only ever shown to it).
    administration: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The compact JWS sealed by the platform: what the administration keeps and verifies.
    jws: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
