"""Screen presence and online/offline events; QR scan codes and their daily counts.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screen_presence",
        sa.Column("screen_id", sa.String(64), sa.ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("up", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "screen_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("screen_id", sa.String(64), sa.ForeignKey("screens.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('offline', 'online')", name="ck_screen_events_kind"),
    )
    op.create_index("ix_screen_events_screen_id", "screen_events", ["screen_id"])
    op.create_index("ix_screen_events_at", "screen_events", ["at"])
    op.create_table(
        "scan_codes",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("poster_id", sa.Integer(), sa.ForeignKey("posters.id", ondelete="CASCADE"), nullable=False),
        sa.Column("screen_id", sa.String(64), sa.ForeignKey("screens.id", ondelete="CASCADE"), nullable=True),
        sa.Column("website_url", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_scan_codes_poster_id", "scan_codes", ["poster_id"])
    op.create_table(
        "scan_counts",
        sa.Column("code", sa.String(16), sa.ForeignKey("scan_codes.code", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("platform", sa.String(8), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("platform IN ('ios', 'android', 'web')", name="ck_scan_counts_platform"),
    )


def downgrade() -> None:
    op.drop_table("scan_counts")
    op.drop_index("ix_scan_codes_poster_id", "scan_codes")
    op.drop_table("scan_codes")
    op.drop_index("ix_screen_events_at", "screen_events")
    op.drop_index("ix_screen_events_screen_id", "screen_events")
    op.drop_table("screen_events")
    op.drop_table("screen_presence")
