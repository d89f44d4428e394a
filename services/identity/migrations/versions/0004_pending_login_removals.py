"""account deletions record when the Keycloak login was removed (retried until done)

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
    # Left empty for the deletions made before: the worker's first sweep asks Keycloak about
    # each once (a login already gone counts as removed).
    op.add_column(
        "account_deletions",
        sa.Column("login_removed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_account_deletions_login_pending",
        "account_deletions",
        ["requested_at"],
        unique=False,
        postgresql_where=sa.text("login_removed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_account_deletions_login_pending",
        table_name="account_deletions",
        postgresql_where=sa.text("login_removed_at IS NULL"),
    )
    op.drop_column("account_deletions", "login_removed_at")
