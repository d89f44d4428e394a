"""tracking created_by: who created a tracking for a child or a company, so their contact data
can be purged with their account

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
    op.add_column("trackings", sa.Column("created_by", sa.String(length=80), nullable=True))
    op.create_index(op.f("ix_trackings_created_by"), "trackings", ["created_by"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_trackings_created_by"), table_name="trackings")
    op.drop_column("trackings", "created_by")
