"""The access log: one row per read of authentic data, append-only and hash-chained (see chain).

The database refuses deleting a row and any update but the purge's, which may only empty the
personal columns (migration 0001's trigger); the chain detects what gets past that anyway.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from guichet_kit.db import Base


class DataAccess(Base):
    __tablename__ = "data_accesses"

    # Chain order: entries are appended under a lock, so ids grow along the chain.
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    access_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    accessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accessor_kind: Mapped[str] = mapped_column(String(20))
    # Service name or administration code; for a reading person, their national id (personal).
    accessor: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(100))
    fields: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Personal part, emptied by a purge: "person:<national id>" or "company:<number>".
    subject: Mapped[str | None] = mapped_column(String(30))
    agent: Mapped[str | None] = mapped_column(String(100))
    request_reference: Mapped[str | None] = mapped_column(String(200))
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    salt: Mapped[bytes | None] = mapped_column(LargeBinary)
    personal_digest: Mapped[bytes] = mapped_column(LargeBinary)
    previous_hash: Mapped[bytes] = mapped_column(LargeBinary)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # A person's (or company's) log, newest first.
        Index(
            "ix_data_accesses_subject_id",
            "subject",
            "id",
            postgresql_where="subject IS NOT NULL",
        ),
    )
