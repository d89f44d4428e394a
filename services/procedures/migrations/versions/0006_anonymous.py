"""requests filed without an account: the checked address, the follow-up token and the claim (F21)

Revision ID: 0006_anonymous
Revises: 0005_attachments
"""

from collections.abc import Sequence

revision: str = "0006_anonymous"
down_revision: str | None = "0005_attachments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
