"""What identity stores about accounts beside Keycloak: e-mail changes and account deletions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from guichet_kit.db import Base


class EmailChangeRequest(Base):
    """A new login e-mail waiting for its owner to follow the link sent to it (F6)."""

    __tablename__ = "email_change_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Keycloak subject of the account.
    subject: Mapped[str] = mapped_column(String(64), index=True)
    new_email: Mapped[str] = mapped_column(String(320))
    # Only the hash is kept: a database leak must not let anyone confirm a change.
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccountDeletion(Base):
    """A deleted account and the services whose purge it waits for (F8)."""

    __tablename__ = "account_deletions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Fixed at request time from settings, so a service added later is not awaited for old ones.
    awaited_services: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When Keycloak confirmed the login is gone; until then the worker keeps retrying.
    login_removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    confirmations: Mapped[list[PurgeConfirmation]] = relationship(
        back_populates="deletion", lazy="raise", order_by="PurgeConfirmation.confirmed_at"
    )

    # The worker's sweep reads only the few deletions whose login removal is pending.
    __table_args__ = (
        Index(
            "ix_account_deletions_login_pending",
            "requested_at",
            postgresql_where=text("login_removed_at IS NULL"),
        ),
    )

    @property
    def confirmed_services(self) -> list[str]:
        return [confirmation.service for confirmation in self.confirmations]

    @property
    def awaiting(self) -> list[str]:
        confirmed = set(self.confirmed_services)
        return [service for service in self.awaited_services if service not in confirmed]


class PurgeConfirmation(Base):
    """A service said it holds nothing more of the deleted account."""

    __tablename__ = "purge_confirmations"

    deletion_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account_deletions.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    confirmed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    event_id: Mapped[uuid.UUID]

    deletion: Mapped[AccountDeletion] = relationship(back_populates="confirmations", lazy="raise")
