"""Pairing codes for players that have no token yet.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pairings",
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("screen_id", sa.String(64), sa.ForeignKey("screens.id", ondelete="CASCADE"), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_pairings_expires_at", "pairings", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_pairings_expires_at", "pairings")
    op.drop_table("pairings")
