"""What identity stores of companies: professional spaces and their collaborators."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from guichet_identity.spaces.roles import CollaboratorRole
from guichet_kit.db import Base

_ROLES = ", ".join(f"'{role.value}'" for role in CollaboratorRole)


class Space(Base):
    __tablename__ = "spaces"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_name: Mapped[str] = mapped_column(String(200))
    # One space per company: the register number, normalised (B123456).
    registry_number: Mapped[str] = mapped_column(String(10), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(64))

    collaborators: Mapped[list[Collaborator]] = relationship(
        back_populates="space",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Collaborator.added_at",
    )


class Collaborator(Base):
    __tablename__ = "collaborators"

    space_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True
    )
    # A person with an account; national ids, since that is how colleagues know each other.
    national_id: Mapped[str] = mapped_column(String(13), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    space: Mapped[Space] = relationship(back_populates="collaborators", lazy="raise")

    __table_args__ = (CheckConstraint(f"role IN ({_ROLES})", name="role"),)
