"""Certificates issued: enough to verify one (kind, language, date, hash), and whose it was."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from guichet_kit.db import Base


class IssuedCertificate(Base):
    __tablename__ = "issued_certificates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # "person:<national id>"; emptied when the person's account is deleted: a certificate they
    # handed to someone stays verifiable, but no longer says whose it was.
    subject: Mapped[str | None] = mapped_column(String(30), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2))
    sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('residence', 'household')", name="kind"),
        CheckConstraint("language IN ('fr', 'de', 'en')", name="language"),
    )
