"""appointments (F32): slots opened by administrations, each request's hold or booking, the
catalogue's appointment mode, and the history kinds of a booking moved or cancelled

Revision ID: 0002_appointments
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_appointments"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "'submitted', 'status_changed', 'correction_asked', 'correction_answered', 'message', "
    "'decision', 'cancelled', 'expired'"
)
APPOINTMENT_KINDS = "'appointment_changed', 'appointment_cancelled'"


def upgrade() -> None:
    op.add_column(
        "procedures",
        sa.Column("appointment", sa.String(length=10), server_default="none", nullable=False),
    )
    op.create_table(
        "appointment_slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("procedure_code", sa.String(length=60), nullable=False),
        sa.Column("place_code", sa.String(length=40), nullable=False),
        sa.Column("administration", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "capacity BETWEEN 1 AND 1000", name=op.f("ck_appointment_slots_capacity")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_appointment_slots_span")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_slots")),
    )
    op.create_index(
        "ix_appointment_slots_procedure_start",
        "appointment_slots",
        ["procedure_code", "starts_at"],
        unique=False,
    )
    op.create_table(
        "appointments",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('held', 'booked', 'cancelled')", name=op.f("ck_appointments_state")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_appointments_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["appointment_slots.id"],
            name=op.f("fk_appointments_slot_id_appointment_slots"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_appointments")),
    )
    op.create_index(
        "ix_appointments_slot_live",
        "appointments",
        ["slot_id"],
        unique=False,
        postgresql_where=sa.text("state <> 'cancelled'"),
    )
    op.drop_constraint(op.f("ck_request_history_kind"), "request_history", type_="check")
    op.create_check_constraint(
        op.f("ck_request_history_kind"),
        "request_history",
        f"kind IN ({KINDS}, {APPOINTMENT_KINDS})",
    )


def downgrade() -> None:
    op.execute("DELETE FROM request_history WHERE kind LIKE 'appointment_%'")
    op.drop_constraint(op.f("ck_request_history_kind"), "request_history", type_="check")
    op.create_check_constraint(
        op.f("ck_request_history_kind"), "request_history", f"kind IN ({KINDS})"
    )
    op.drop_index(
        "ix_appointments_slot_live",
        table_name="appointments",
        postgresql_where=sa.text("state <> 'cancelled'"),
    )
    op.drop_table("appointments")
    op.drop_index("ix_appointment_slots_procedure_start", table_name="appointment_slots")
    op.drop_table("appointment_slots")
    op.drop_column("procedures", "appointment")
