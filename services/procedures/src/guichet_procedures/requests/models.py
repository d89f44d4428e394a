"""What procedures stores: published versions of the definitions, the catalogue's search rows,
requests (drafts to closed), their citizen-visible history and their proofs of deposit.

A published version is immutable: a changed definition is a new version. A request keeps the
version it was started on until it is submitted, and is handled on it afterwards.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Sequence,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from guichet_kit.db import Base

# Whose a request is: "person:<national id>", "company:<space id>" or, filed without an
# account, "anonymous:<request id>".
OWNER_LENGTH = 80
ANONYMOUS_PREFIX = "anonymous:"
CODE_LENGTH = 60
STATUS_LENGTH = 40

# Where a request stands on the platform (the procedure's own status is `status`).
DRAFT = "draft"
SUBMITTED = "submitted"
ACTION_NEEDED = "action_needed"
CLOSED = "closed"
CANCELLED = "cancelled"
EXPIRED = "expired"
STATES = (DRAFT, SUBMITTED, ACTION_NEEDED, CLOSED, CANCELLED, EXPIRED)

# The citizen-visible history's kinds ("message" and "decision" are an administration's notes).
HISTORY_KINDS = (
    "submitted",
    "status_changed",
    "correction_asked",
    "correction_answered",
    "message",
    "decision",
    "cancelled",
    "expired",
    # F32: a booking moved or cancelled after submission (by the citizen or the administration).
    "appointment_changed",
    "appointment_cancelled",
)


def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# The administrations' stream cursor: given at each (re)submission, always increasing.
INCOMING_SEQUENCE = Sequence("requests_incoming_sequence", metadata=Base.metadata)


class ProcedureVersion(Base):
    """One published version of a definition, never changed once written."""

    __tablename__ = "procedure_versions"

    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the definition as published: the same version published again must match it.
    content_hash: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (CheckConstraint("version >= 1", name="version"),)


class Procedure(Base):
    """The catalogue's entry of a procedure: its current version and what search needs."""

    __tablename__ = "procedures"

    code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    current_version: Mapped[int] = mapped_column(Integer)
    administration: Mapped[str] = mapped_column(String(40), index=True)
    theme: Mapped[str] = mapped_column(String(40), index=True)
    # "citizen" and/or "company".
    audience: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    # "required" or "optional"; the level is low, substantial or high.
    login: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    paper_form_code: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    # F32: "none", "optional" or "required".
    appointment: Mapped[str] = mapped_column(String(10), server_default="none")
    # {"fr": ..., "de": ..., "en": ...}
    titles: Mapped[dict[str, str]] = mapped_column(JSONB)
    summaries: Mapped[dict[str, str]] = mapped_column(JSONB)
    # Full text per language: title (A) > keywords (B) > summary (C), unaccented configurations.
    search_fr: Mapped[Any] = mapped_column(TSVECTOR)
    search_de: Mapped[Any] = mapped_column(TSVECTOR)
    search_en: Mapped[Any] = mapped_column(TSVECTOR)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_procedures_search_fr", "search_fr", postgresql_using="gin"),
        Index("ix_procedures_search_de", "search_de", postgresql_using="gin"),
        Index("ix_procedures_search_en", "search_en", postgresql_using="gin"),
        CheckConstraint("channel IN ('online', 'paper')", name="channel"),
        CheckConstraint("login IN ('required', 'optional')", name="login"),
        CheckConstraint("level IN ('low', 'substantial', 'high')", name="level"),
    )


class Request(Base):
    """A draft or a submitted request; an expired draft stays as a tombstone without answers."""

    __tablename__ = "requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Canonical PR-XXXX-XXXX-C, given at submission.
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    procedure_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    # The pinned version of the definition.
    procedure_version: Mapped[int] = mapped_column(Integer)
    # Copied from the definition at start: competence is checked against the pinned version.
    administration: Mapped[str] = mapped_column(String(40))
    # Whose space lists it; None once the account was deleted (the administration's copy stays).
    owner: Mapped[str | None] = mapped_column(String(OWNER_LENGTH))
    # "person:<national id>" of the signed-in person who started it.
    created_by: Mapped[str | None] = mapped_column(String(OWNER_LENGTH), index=True)
    # The applicant's name as the administration sees it (set at submission).
    applicant_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(20))
    # The procedure's status code; None for a draft.
    status: Mapped[str | None] = mapped_column(String(STATUS_LENGTH))
    # field id -> value, pruned (no hidden field, no inapplicable step); {} for a tombstone.
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    completed_steps: Mapped[list[str]] = mapped_column(ARRAY(String(CODE_LENGTH)), default=list)
    # What the administration asked to correct (state action_needed).
    asked_fields: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    # The status to go back to once the correction is answered.
    status_before_correction: Mapped[str | None] = mapped_column(String(STATUS_LENGTH))
    # Bumped on every change: the administrations' optimistic concurrency.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # From INCOMING_SEQUENCE at each (re)submission: the administrations' stream cursor.
    incoming_sequence: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # The submission's idempotency key: a retry with it gets the same answer.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    answers_sha256: Mapped[str | None] = mapped_column(String(64))
    # F26: the applicant's signature of the answers, as verified (`requests/signature.py`).
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # {"fr": ..., "de": ..., "en": ...} of the pinned version.
    title: Mapped[dict[str, str]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A draft's end if left alone; DraftExpiring went out at `warned_at`.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # F24: the decision on prefill (accepted or refused), by whom and when, and each prefilled
    # field's source, read_at and value (`requests/prefill.py`); None until one is taken.
    prefill: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    history: Mapped[list[RequestHistory]] = relationship(
        back_populates="request", lazy="raise", order_by="RequestHistory.id"
    )
    # F32: its hold or booking, written by `appointments` (read here only).
    appointment: Mapped[Appointment | None] = relationship(
        lazy="raise", uselist=False, viewonly=True
    )
    # F25: its files, written by `attachments` (set on it for the proof only).
    attachments: Mapped[list[Attachment]] = relationship(
        lazy="raise", viewonly=True, order_by="Attachment.number"
    )

    __table_args__ = (
        CheckConstraint(f"state IN ({_one_of(STATES)})", name="state"),
        CheckConstraint("language IN ('fr', 'de', 'en')", name="language"),
        CheckConstraint("version >= 1", name="version"),
        # My requests: the owner's list, newest change first.
        Index("ix_requests_owner_updated", "owner", "updated_at"),
        # The administrations' stream: their (re)submissions in order.
        Index(
            "ix_requests_administration_incoming",
            "administration",
            "incoming_sequence",
            postgresql_where=text("incoming_sequence IS NOT NULL"),
        ),
        # The upkeep: drafts by expiry.
        Index(
            "ix_requests_draft_expiry",
            "expires_at",
            postgresql_where=text("state = 'draft'"),
        ),
        # The upkeep: detached requests of deleted accounts, by when they closed.
        Index(
            "ix_requests_detached",
            "updated_at",
            postgresql_where=text("owner IS NULL"),
        ),
    )


class RequestHistory(Base):
    """One citizen-visible event of a request: its time, who did it, what it said."""

    __tablename__ = "request_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    # "applicant" or the administration's code.
    actor: Mapped[str] = mapped_column(String(40))
    # The status after the event (None when it did not change one).
    status: Mapped[str | None] = mapped_column(String(STATUS_LENGTH))
    # The message, comment or decision note.
    text: Mapped[str] = mapped_column(Text, default="")
    # The fields a correction asked about or changed.
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    request: Mapped[Request] = relationship(back_populates="history", lazy="raise")

    __table_args__ = (CheckConstraint(f"kind IN ({_one_of(HISTORY_KINDS)})", name="kind"),)


class Proof(Base):
    """A sealed proof of deposit: one per (re)submission, the latest is the one handed out."""

    __tablename__ = "proofs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    # SHA-256 of the PDF as handed out: a verified proof must be one of these files.
    sha256: Mapped[str] = mapped_column(String(64))
    answers_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# F32: a hold lapses at `held_until` unless the request is submitted, which books it.
HELD = "held"
BOOKED = "booked"
APPOINTMENT_CANCELLED = "cancelled"
APPOINTMENT_STATES = (HELD, BOOKED, APPOINTMENT_CANCELLED)
MAX_SLOT_CAPACITY = 1000


class AppointmentSlot(Base):
    """A time at a place of a procedure, opened by its administration for `capacity` people."""

    __tablename__ = "appointment_slots"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    procedure_code: Mapped[str] = mapped_column(String(CODE_LENGTH))
    # A place code of the procedure's definition.
    place_code: Mapped[str] = mapped_column(String(40))
    administration: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    capacity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"capacity BETWEEN 1 AND {MAX_SLOT_CAPACITY}", name="capacity"),
        CheckConstraint("ends_at > starts_at", name="span"),
        Index("ix_appointment_slots_procedure_start", "procedure_code", "starts_at"),
    )


class Appointment(Base):
    """A request's hold or booking of a slot: one per request, moved or cancelled in place."""

    __tablename__ = "appointments"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appointment_slots.id"))
    state: Mapped[str] = mapped_column(String(10))
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the administration moved or cancelled it.
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    slot: Mapped[AppointmentSlot] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(f"state IN ({_one_of(APPOINTMENT_STATES)})", name="state"),
        # Counting a slot's live holds and bookings under its lock.
        Index(
            "ix_appointments_slot_live",
            "slot_id",
            postgresql_where=text("state <> 'cancelled'"),
        ),
    )


class QuotaCounter(Base):
    """Submissions taken against a procedure's quota (F33): one row per procedure and key,
    "total" or a calendar period ("month:2025-03"). Only ever increased, by one atomic upsert
    that refuses at the limit (`requests/quotas.py`)."""

    __tablename__ = "quota_counters"

    procedure_code: Mapped[str] = mapped_column(String(CODE_LENGTH), primary_key=True)
    period_key: Mapped[str] = mapped_column(String(20), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("used >= 0", name="used"),)


# F25: where an attachment came from.
UPLOADED = "upload"
FROM_WALLET = "wallet"


class Attachment(Base):
    """A file given to an attachment field of a request: an immutable, retained copy in the
    wallet's file pipeline (`copy_id`), described here as the wallet reported it."""

    __tablename__ = "request_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    # A top-level attachment field of the request's pinned definition.
    field_id: Mapped[str] = mapped_column(String(CODE_LENGTH))
    # The wallet's locked copy: read back with FileService.ReadCopy.
    copy_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10))
    # The order files came in (times may be equal).
    number: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When a (re)submission first carried it: from then on it is part of the record, never removed.
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"source IN ('{UPLOADED}', '{FROM_WALLET}')", name="source"),
        CheckConstraint("size >= 0", name="size"),
    )


class AnonymousAccess(Base):
    """How a request filed without an account is reached: its token's hash (None once claimed),
    its checked address, the pending codes (hashed) and their counters."""

    __tablename__ = "anonymous_requests"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    code_sha256: Mapped[str | None] = mapped_column(String(64))
    code_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    code_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    codes_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claim_code_sha256: Mapped[str | None] = mapped_column(String(64))
    claim_code_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claim_locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_codes_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(OWNER_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("code_attempts >= 0", name="code_attempts"),
        CheckConstraint("codes_sent >= 0", name="codes_sent"),
        CheckConstraint("claim_failures >= 0", name="claim_failures"),
        CheckConstraint("claim_codes_sent >= 0", name="claim_codes_sent"),
    )

    @property
    def email_confirmed(self) -> bool:
        return self.email is not None and self.email_confirmed_at is not None
