"""requests filed without an account: the checked address, the follow-up token and the claim (F21)

Revision ID: 0006_anonymous
Revises: 0005_attachments
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_anonymous"
down_revision: str | None = "0005_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "anonymous_requests",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_sha256", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("codes_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claim_code_sha256", sa.String(length=64), nullable=True),
        sa.Column("claim_code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claim_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_codes_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("code_attempts >= 0", name=op.f("ck_anonymous_requests_code_attempts")),
        sa.CheckConstraint("codes_sent >= 0", name=op.f("ck_anonymous_requests_codes_sent")),
        sa.CheckConstraint(
            "claim_failures >= 0", name=op.f("ck_anonymous_requests_claim_failures")
        ),
        sa.CheckConstraint(
            "claim_codes_sent >= 0", name=op.f("ck_anonymous_requests_claim_codes_sent")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_anonymous_requests_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_anonymous_requests")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_anonymous_requests_token_sha256")),
    )


def downgrade() -> None:
    op.drop_table("anonymous_requests")
