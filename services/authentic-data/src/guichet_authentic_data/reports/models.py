"""Reports of wrong data and where each stands."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guichet_authentic_data.reports.status import ReportStatus
from guichet_kit.db import Base

_STATUSES = ", ".join(f"'{status.value}'" for status in ReportStatus)


class DataReport(Base):
    __tablename__ = "data_reports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Whose entry: "person:<national id>" or "company:<company number>".
    subject: Mapped[str] = mapped_column(String(30))
    field: Mapped[str] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(30))
    comment: Mapped[str] = mapped_column(Text)
    proposed_value: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(10))
    resolution_code: Mapped[str | None] = mapped_column(String(40))
    # National id of the person who filed it (the subject, a mandate holder, a space member).
    filed_by: Mapped[str | None] = mapped_column(String(13), index=True)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        Index("ix_data_reports_subject_filed_at", "subject", "filed_at"),
        # The source's desk picks up what it acknowledged and has not answered yet.
        Index("ix_data_reports_received", "filed_at", postgresql_where="status = 'received'"),
    )
