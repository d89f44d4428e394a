"""eDeliveries and their sealed receipts

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "edeliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("administration", sa.String(length=40), nullable=False),
        sa.Column("delivery_id", sa.String(length=80), nullable=False),
        sa.Column("addressee", sa.String(length=80), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("piece_id", sa.Uuid(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unread_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edeliveries")),
        sa.UniqueConstraint(
            "administration", "delivery_id", name=op.f("uq_edeliveries_administration")
        ),
    )
    op.create_index("ix_edeliveries_addressee", "edeliveries", ["addressee"], unique=False)
    op.create_index(
        "ix_edeliveries_unread",
        "edeliveries",
        ["delivered_at"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL AND unread_reported_at IS NULL"),
    )
    op.create_table(
        "edelivery_receipts",
        sa.Column("number", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery", sa.Uuid(), nullable=False),
        sa.Column("administration", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["delivery"],
            ["edeliveries.id"],
            name=op.f("fk_edelivery_receipts_delivery_edeliveries"),
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_edelivery_receipts")),
        sa.UniqueConstraint("delivery", "kind", name=op.f("uq_edelivery_receipts_delivery")),
        sa.UniqueConstraint("id", name=op.f("uq_edelivery_receipts_id")),
    )
    op.create_index(
        "ix_edelivery_receipts_administration",
        "edelivery_receipts",
        ["administration", "number"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_edelivery_receipts_administration", table_name="edelivery_receipts")
    op.drop_table("edelivery_receipts")
    op.drop_index(
        "ix_edeliveries_unread",
        table_name="edeliveries",
        postgresql_where=sa.text("read_at IS NULL AND unread_reported_at IS NULL"),
    )
    op.drop_index("ix_edeliveries_addressee", table_name="edeliveries")
    op.drop_table("edeliveries")
