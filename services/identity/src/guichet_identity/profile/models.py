"""What identity stores of a person: the profile (one per Keycloak user) and its preferences."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from guichet_kit.db import Base


class Profile(Base):
    __tablename__ = "profiles"

    # Keycloak's user id (the tokens' `sub`).
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    national_id: Mapped[str] = mapped_column(String(13), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Derived from the national identifier, kept for queries (minors, age checks).
    birth_date: Mapped[date] = mapped_column(Date)
    # A copy of the login e-mail in Keycloak, changed only through a confirmed e-mail change.
    email: Mapped[str] = mapped_column(String(320))
    # E.164.
    phone: Mapped[str | None] = mapped_column(String(16))
    street: Mapped[str] = mapped_column(String(200), default="")
    house_number: Mapped[str] = mapped_column(String(20), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    locality: Mapped[str] = mapped_column(String(100), default="")
    # ISO 3166-1 alpha-2; empty when no address is known.
    country: Mapped[str] = mapped_column(String(2), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    preferences: Mapped[Preferences] = relationship(
        back_populates="profile", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def person(self) -> str:
        """The owner key of this person's private space, as CheckMandate answers it."""
        return f"person:{self.national_id}"


class Preferences(Base):
    __tablename__ = "preferences"

    subject: Mapped[str] = mapped_column(
        ForeignKey("profiles.subject", ondelete="CASCADE"), primary_key=True
    )
    email_notifications: Mapped[bool] = mapped_column(default=True)
    sms_notifications: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(String(2))
    edelivery_subscribed: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    profile: Mapped[Profile] = relationship(back_populates="preferences", lazy="raise")

    __table_args__ = (CheckConstraint("language IN ('fr', 'de', 'en')", name="language"),)
