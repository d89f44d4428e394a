"""A thread is one exchange between a person and one administration; its messages go both ways,
each read or not by the other side; attachments are files kept by the wallet's FileService."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from guichet_kit.db import Base


class ThreadKind(StrEnum):
    MESSAGE = "message"
    DOCUMENT = "document"
    REQUEST = "request"


class Side(StrEnum):
    PERSON = "person"
    ADMINISTRATION = "administration"


class ExchangeThread(Base):
    __tablename__ = "exchange_threads"
    __table_args__ = (
        Index("ix_exchange_threads_owner", "owner", "last_message_at"),
        Index("ix_exchange_threads_administration", "administration", "last_message_at"),
        # One thread per person and procedures request.
        Index(
            "ux_exchange_threads_request",
            "owner",
            "request_reference",
            unique=True,
            postgresql_where=text("request_reference IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The person's national id.
    owner: Mapped[str] = mapped_column(String(80))
    administration: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    theme: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(80))
    # A procedures request's reference, for a thread per request.
    request_reference: Mapped[str | None] = mapped_column(String(40))
    # A document sent to an administration (F66) is acknowledged with this reference.
    reference: Mapped[str | None] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExchangeMessage(Base):
    __tablename__ = "exchange_messages"
    __table_args__ = (Index("ix_exchange_messages_thread", "thread", "number"),)

    # The order of a thread's messages.
    number: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    thread: Mapped[uuid.UUID] = mapped_column(ForeignKey("exchange_threads.id"))
    side: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Read by the other side (the person for an answer, the administration for a message).
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ExchangeAttachment(Base):
    """A file the person uploaded: first on its own (no message), then sent with one message."""

    __tablename__ = "exchange_attachments"
    __table_args__ = (
        Index("ix_exchange_attachments_owner", "owner"),
        Index("ix_exchange_attachments_message", "message"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The person's national id (who uploaded it).
    owner: Mapped[str] = mapped_column(String(80))
    # None until a message carries it.
    message: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("exchange_messages.id"))
    # The wallet's file id (its FileService keeps the bytes, scanned and typed).
    file_id: Mapped[str] = mapped_column(String(80))
    file_name: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), server_default="")
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
