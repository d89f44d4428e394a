"""What eTracking stores: a tracking and its status history."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from guichet_etracking.tracking.status import TrackingStatus
from guichet_kit.db import Base

_STATUSES = ", ".join(f"'{status.value}'" for status in TrackingStatus)


class Tracking(Base):
    __tablename__ = "trackings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Canonical form (ETXXXXXXXXC); the check character is part of it.
    number: Mapped[str] = mapped_column(String(11), unique=True)
    paper_form_code: Mapped[str] = mapped_column(String(40))
    # Copied from the catalogue at creation: competence is checked against what was printed.
    administration: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(30))
    # Whose space lists it: "person:<national id>" or "company:<space id>"; None if anonymous.
    owner: Mapped[str | None] = mapped_column(String(80), index=True)
    # "person:<national id>" of the signed-in person who created it (None if anonymous): when it
    # was made for a child or a company, their contact data goes with their account's deletion.
    created_by: Mapped[str | None] = mapped_column(String(80), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    history: Mapped[list[TrackingStatusChange]] = relationship(
        back_populates="tracking", lazy="raise", order_by="TrackingStatusChange.id"
    )

    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        CheckConstraint("language IN ('fr', 'de', 'en')", name="language"),
    )


class TrackingStatusChange(Base):
    __tablename__ = "tracking_status_changes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tracking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("trackings.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(30))
    # Who moved it: "applicant" at creation, else the administration's code.
    changed_by: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(String(500), default="")
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    tracking: Mapped[Tracking] = relationship(back_populates="history", lazy="raise")

    __table_args__ = (CheckConstraint(f"status IN ({_STATUSES})", name="status"),)
