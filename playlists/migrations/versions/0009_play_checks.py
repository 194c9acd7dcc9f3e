"""Refused proof-of-play counts by reason, and what the plays check needs.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The reasons playlists.reports gives; one row each, so /metrics lists them all from the start.
REASONS = ("not_scheduled", "too_long", "overlap", "future", "too_old")


def upgrade() -> None:
    table = op.create_table(
        "play_refusals",
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"reason": reason, "count": 0} for reason in REASONS])


def downgrade() -> None:
    op.drop_table("play_refusals")
