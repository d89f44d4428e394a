"""one current relation per pair (relations.ended_at and a partial unique index)

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
    op.add_column("relations", sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    # Revoked relations ended when revoked; expired ones at their expiry.
    op.execute("UPDATE relations SET ended_at = revoked_at WHERE revoked_at IS NOT NULL")
    op.execute(
        "UPDATE relations SET ended_at = expires_at WHERE ended_at IS NULL AND expires_at <= now()"
    )
    # Two grants made at once may both have passed the old check: the first made stays, the
    # others are revoked (they were never meant to exist), so the index can be built.
    op.execute(
        """
        UPDATE relations AS later SET revoked_at = now(), ended_at = now()
        WHERE later.ended_at IS NULL AND EXISTS (
            SELECT 1 FROM relations AS first
            WHERE first.actor_national_id = later.actor_national_id
              AND first.subject_national_id = later.subject_national_id
              AND first.ended_at IS NULL
              AND (first.created_at, first.id) < (later.created_at, later.id)
        )
        """
    )
    op.create_index(
        "uq_relations_current_pair",
        "relations",
        ["actor_national_id", "subject_national_id"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_relations_current_pair",
        table_name="relations",
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.drop_column("relations", "ended_at")
