"""Hourly proof-of-play counts, and a mark on raw plays already counted into them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plays") as batch:
        batch.add_column(sa.Column("rolled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index("ix_plays_rolled", ["rolled"])
    op.create_table(
        "play_hours",
        sa.Column("screen_id", sa.String(64), sa.ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("item", sa.String(200), primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("play_hours")
    with op.batch_alter_table("plays") as batch:
        batch.drop_index("ix_plays_rolled")
        batch.drop_column("rolled")
