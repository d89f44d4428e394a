"""the attachments of requests, as immutable copies in the wallet's file pipeline (F25)

Revision ID: 0005_attachments
Revises: 0004_prefill
"""

from collections.abc import Sequence

revision: str = "0005_attachments"
down_revision: str | None = "0004_prefill"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
