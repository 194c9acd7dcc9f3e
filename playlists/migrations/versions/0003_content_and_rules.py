"""Posters, renditions, playlists, schedules, reminders, overrides and the revision counter.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_RULES = ("schedule", "reminder", "override")


def _targets(kind: str) -> None:
    op.create_table(
        f"{kind}_screens",
        sa.Column(f"{kind}_id", sa.Integer(), sa.ForeignKey(f"{kind}s.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("screen_id", sa.String(64), sa.ForeignKey("screens.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        f"{kind}_groups",
        sa.Column(f"{kind}_id", sa.Integer(), sa.ForeignKey(f"{kind}s.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    )


def upgrade() -> None:
    revision_table = op.create_table(
        "revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(revision_table, [{"id": 1, "value": 1}])
    op.create_table(
        "posters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "renditions",
        sa.Column("content", sa.String(100), primary_key=True),
        sa.Column("profile", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(64), sa.ForeignKey("media.sha256"), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
    )
    op.create_table(
        "playlists",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
    )
    op.create_table(
        "playlist_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("playlist_id", sa.Integer(), sa.ForeignKey("playlists.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.String(100), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.CheckConstraint("duration_s > 0", name="ck_playlist_items_duration"),
    )
    op.create_index("ix_playlist_items_playlist_id", "playlist_items", ["playlist_id"])
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("playlist_id", sa.Integer(), sa.ForeignKey("playlists.id"), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("weekdays", sa.String(7), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("everywhere", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_schedules_playlist_id", "schedules", ["playlist_id"])
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content", sa.String(100), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("every_min", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("everywhere", sa.Boolean(), nullable=False),
        sa.CheckConstraint("duration_s > 0", name="ck_reminders_duration"),
    )
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content", sa.String(100), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("everywhere", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_overrides_end", "overrides", ["end"])
    for kind in _RULES:
        _targets(kind)


def downgrade() -> None:
    for kind in reversed(_RULES):
        op.drop_table(f"{kind}_groups")
        op.drop_table(f"{kind}_screens")
    op.drop_index("ix_overrides_end", "overrides")
    op.drop_table("overrides")
    op.drop_table("reminders")
    op.drop_index("ix_schedules_playlist_id", "schedules")
    op.drop_table("schedules")
    op.drop_index("ix_playlist_items_playlist_id", "playlist_items")
    op.drop_table("playlist_items")
    op.drop_table("playlists")
    op.drop_table("renditions")
    op.drop_table("posters")
    op.drop_table("revision")
