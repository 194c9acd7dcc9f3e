"""Screen heartbeats and proof of play.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screen_status",
        sa.Column("screen_id", sa.String(64), sa.ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("player_version", sa.String(64), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("status_json", sa.Text(), nullable=False),
    )
    op.create_table(
        "plays",
        sa.Column("screen_id", sa.String(64), sa.ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_plays_started_at", "plays", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_plays_started_at", "plays")
    op.drop_table("plays")
    op.drop_table("screen_status")
