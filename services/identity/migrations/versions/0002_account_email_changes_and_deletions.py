"""account email changes and deletions

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
        "account_deletions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("awaited_services", sa.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_deletions")),
    )
    op.create_index(
        op.f("ix_account_deletions_subject"), "account_deletions", ["subject"], unique=False
    )
    op.create_table(
        "email_change_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("new_email", sa.String(length=320), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_change_requests")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_email_change_requests_token_sha256")),
    )
    op.create_index(
        op.f("ix_email_change_requests_subject"), "email_change_requests", ["subject"], unique=False
    )
    op.create_table(
        "purge_confirmations",
        sa.Column("deletion_id", sa.Uuid(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column(
            "confirmed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deletion_id"],
            ["account_deletions.id"],
            name=op.f("fk_purge_confirmations_deletion_id_account_deletions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deletion_id", "service", name=op.f("pk_purge_confirmations")),
    )


def downgrade() -> None:
    op.drop_table("purge_confirmations")
    op.drop_index(op.f("ix_email_change_requests_subject"), table_name="email_change_requests")
    op.drop_table("email_change_requests")
    op.drop_index(op.f("ix_account_deletions_subject"), table_name="account_deletions")
    op.drop_table("account_deletions")
