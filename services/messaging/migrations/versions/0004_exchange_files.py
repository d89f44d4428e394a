"""Exchanges: files uploaded before their message is sent, documents' references, a thread per
procedures request

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A file is uploaded first (no message yet), then sent with a message by its id.
    op.alter_column("exchange_attachments", "message", existing_type=sa.Uuid(), nullable=True)
    op.add_column("exchange_attachments", sa.Column("owner", sa.String(length=80), nullable=True))
    op.execute(
        "UPDATE exchange_attachments a SET owner = t.owner FROM exchange_messages m"
        " JOIN exchange_threads t ON t.id = m.thread WHERE m.id = a.message"
    )
    op.alter_column("exchange_attachments", "owner", nullable=False)
    op.add_column(
        "exchange_attachments",
        sa.Column("sha256", sa.String(length=64), server_default="", nullable=False),
    )
    op.add_column(
        "exchange_attachments",
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_exchange_attachments_owner", "exchange_attachments", ["owner"], unique=False
    )
    op.create_index(
        "ix_exchange_attachments_message", "exchange_attachments", ["message"], unique=False
    )
    # A document sent to an administration is acknowledged with this reference.
    op.add_column("exchange_threads", sa.Column("reference", sa.String(length=16), nullable=True))
    op.create_unique_constraint(
        op.f("uq_exchange_threads_reference"), "exchange_threads", ["reference"]
    )
    # One thread per person and procedures request.
    op.create_index(
        "ux_exchange_threads_request",
        "exchange_threads",
        ["owner", "request_reference"],
        unique=True,
        postgresql_where=sa.text("request_reference IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ux_exchange_threads_request", table_name="exchange_threads")
    op.drop_constraint(op.f("uq_exchange_threads_reference"), "exchange_threads", type_="unique")
    op.drop_column("exchange_threads", "reference")
    op.drop_index("ix_exchange_attachments_message", table_name="exchange_attachments")
    op.drop_index("ix_exchange_attachments_owner", table_name="exchange_attachments")
    op.drop_column("exchange_attachments", "uploaded_at")
    op.drop_column("exchange_attachments", "sha256")
    op.drop_column("exchange_attachments", "owner")
    op.execute("DELETE FROM exchange_attachments WHERE message IS NULL")
    op.alter_column("exchange_attachments", "message", existing_type=sa.Uuid(), nullable=False)
