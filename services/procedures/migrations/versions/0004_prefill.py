"""the decision on prefill of a request, with each prefilled field's source (F24)

Revision ID: 0004_prefill
Revises: 0003_signatures
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_prefill"
down_revision: str | None = "0003_signatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "requests", sa.Column("prefill", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("requests", "prefill")
