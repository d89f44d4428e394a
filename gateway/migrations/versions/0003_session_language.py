"""the language of a web session (the person's preference, read at sign-in)

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
    op.add_column("web_sessions", sa.Column("language", sa.String(2), nullable=True))


def downgrade() -> None:
    op.drop_column("web_sessions", "language")
