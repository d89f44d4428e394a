"""quota counters: submissions taken per procedure, in all and per calendar period (F33)

Revision ID: 0002_quotas
Revises: 0002_appointments (F32's tables come first)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_quotas"
down_revision: str | None = "0002_appointments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quota_counters",
        sa.Column("procedure_code", sa.String(length=60), nullable=False),
        sa.Column("period_key", sa.String(length=20), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_quota_counters_used")),
        sa.PrimaryKeyConstraint("procedure_code", "period_key", name=op.f("pk_quota_counters")),
    )


def downgrade() -> None:
    op.drop_table("quota_counters")
