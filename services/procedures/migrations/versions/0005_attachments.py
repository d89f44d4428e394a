"""the attachments of requests, as immutable copies in the wallet's file pipeline (F25)

Revision ID: 0005_attachments
Revises: 0004_prefill
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_attachments"
down_revision: str | None = "0004_prefill"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("field_id", sa.String(length=60), nullable=False),
        sa.Column("copy_id", sa.Uuid(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("number", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "source IN ('upload', 'wallet')", name=op.f("ck_request_attachments_source")
        ),
        sa.CheckConstraint("size >= 0", name=op.f("ck_request_attachments_size")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_attachments_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_attachments")),
        sa.UniqueConstraint("copy_id", name=op.f("uq_request_attachments_copy_id")),
        sa.UniqueConstraint("number", name=op.f("uq_request_attachments_number")),
    )
    op.create_index(
        op.f("ix_request_attachments_request_id"), "request_attachments", ["request_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_request_attachments_request_id"), table_name="request_attachments")
    op.drop_table("request_attachments")
