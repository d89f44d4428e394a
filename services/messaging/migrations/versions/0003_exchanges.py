"""Exchanges between persons and administrations: threads, messages, attachments

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_threads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("administration", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("theme", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("request_reference", sa.String(length=40), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_threads")),
    )
    op.create_index(
        "ix_exchange_threads_owner", "exchange_threads", ["owner", "last_message_at"], unique=False
    )
    op.create_index(
        "ix_exchange_threads_administration",
        "exchange_threads",
        ["administration", "last_message_at"],
        unique=False,
    )
    op.create_table(
        "exchange_messages",
        sa.Column("number", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("thread", sa.Uuid(), nullable=False),
        sa.Column("side", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["thread"],
            ["exchange_threads.id"],
            name=op.f("fk_exchange_messages_thread_exchange_threads"),
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_exchange_messages")),
        sa.UniqueConstraint("id", name=op.f("uq_exchange_messages_id")),
    )
    op.create_index(
        "ix_exchange_messages_thread", "exchange_messages", ["thread", "number"], unique=False
    )
    op.create_table(
        "exchange_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message", sa.Uuid(), nullable=False),
        sa.Column("file_id", sa.String(length=80), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message"],
            ["exchange_messages.id"],
            name=op.f("fk_exchange_attachments_message_exchange_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_attachments")),
    )


def downgrade() -> None:
    op.drop_table("exchange_attachments")
    op.drop_index("ix_exchange_messages_thread", table_name="exchange_messages")
    op.drop_table("exchange_messages")
    op.drop_index("ix_exchange_threads_administration", table_name="exchange_threads")
    op.drop_index("ix_exchange_threads_owner", table_name="exchange_threads")
    op.drop_table("exchange_threads")
