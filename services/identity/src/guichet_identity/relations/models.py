"""What identity stores of mandates: relations between people, and the audit of acts on behalf."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from guichet_identity.relations.mandate import RelationKind
from guichet_kit.db import Base

_KINDS = ", ".join(f"'{kind.value}'" for kind in RelationKind)
# At most one current relation per (actor, subject): two grants at once cannot both pass the check.
CURRENT_PAIR = "uq_relations_current_pair"


class Relation(Base):
    """The person `actor_national_id` may act for `subject_national_id` within `rights`.

    Both sides are national identifiers, not accounts: a declared child has no account, and a
    mandate may be granted to someone who registers later.
    """

    __tablename__ = "relations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(20))
    actor_national_id: Mapped[str] = mapped_column(String(13), index=True)
    subject_national_id: Mapped[str] = mapped_column(String(13), index=True)
    # The subject's name as given when the relation was made (a child's, who has no profile).
    subject_name: Mapped[str] = mapped_column(String(201), default="")
    rights: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When it stopped being its pair's current relation: revoked, or expired and replaced by a
    # new one. Expiry alone cannot end it in the index (an index cannot depend on the time), so
    # a new grant ends the expired relation of its pair in the same transaction.
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Keycloak subject of the user who made it.
    created_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS})", name="kind"),
        Index(
            CURRENT_PAIR,
            "actor_national_id",
            "subject_national_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class ActOnBehalf(Base):
    """One act done in someone else's name, for the audit the owner reads."""

    __tablename__ = "acts_on_behalf"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    actor_subject: Mapped[str] = mapped_column(String(64), index=True)
    actor_national_id: Mapped[str] = mapped_column(String(13))
    # The actor's name at the time of the act: the audit must not change afterwards.
    actor_name: Mapped[str] = mapped_column(String(201), default="")
    acting_context: Mapped[str] = mapped_column(String(80))
    # "person:<national id>" or "company:<space id>".
    owner: Mapped[str] = mapped_column(String(80))
    right: Mapped[str] = mapped_column(String(40))
    act: Mapped[str] = mapped_column(String(500))

    # The owner reads their audit newest first.
    __table_args__ = (Index("ix_acts_on_behalf_owner_occurred_at", "owner", "occurred_at"),)
