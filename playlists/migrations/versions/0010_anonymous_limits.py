"""Limits on anonymous endpoints: pairing requests per address, scan de-duplication.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pairings") as batch:
        batch.add_column(sa.Column("client", sa.String(64), nullable=False, server_default=""))
        batch.create_index("ix_pairings_client", ["client"])
    op.create_table(
        "anon_throttle",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_anon_throttle_window_start", "anon_throttle", ["window_start"])
    op.create_table(
        "scan_seen",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_scan_seen_at", "scan_seen", ["at"])


def downgrade() -> None:
    op.drop_index("ix_scan_seen_at", "scan_seen")
    op.drop_table("scan_seen")
    op.drop_index("ix_anon_throttle_window_start", "anon_throttle")
    op.drop_table("anon_throttle")
    with op.batch_alter_table("pairings") as batch:
        batch.drop_index("ix_pairings_client")
        batch.drop_column("client")
