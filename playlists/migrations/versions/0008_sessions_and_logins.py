"""Server-side console sessions and login throttling per account and address.

Console sessions become rows (the cookie carries a random id whose sha256 is kept), so that logout, a disabled
user, a new password or an admin's "sign out everywhere" end them on the server. Failed logins are counted per
(address, name) pair and per address in one row each, replacing the row-per-failure login_attempts table (its
rows only mattered for 15 minutes, so nothing is carried over). API tokens remember when they were last used.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_index("ix_user_sessions_last_seen_at", "user_sessions", ["last_seen_at"])
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(4), primary_key=True),
        sa.Column("remote", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("scope IN ('pair', 'addr')", name="ck_login_throttle_scope"),
    )
    op.create_index("ix_login_throttle_last_at", "login_throttle", ["last_at"])
    op.drop_table("login_attempts")
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("remote", sa.String(64), nullable=False),
    )
    op.create_index("ix_login_attempts_at", "login_attempts", ["at"])
    op.create_index("ix_login_attempts_username", "login_attempts", ["username"])
    op.create_index("ix_login_attempts_remote", "login_attempts", ["remote"])
    op.drop_index("ix_login_throttle_last_at", "login_throttle")
    op.drop_table("login_throttle")
    op.drop_index("ix_user_sessions_last_seen_at", "user_sessions")
    op.drop_index("ix_user_sessions_user_id", "user_sessions")
    op.drop_table("user_sessions")
