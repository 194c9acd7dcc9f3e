"""Built manifests shared by every worker and host.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "manifest_builds",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("etag", sa.String(32), nullable=False),
        sa.Column("gzipped", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_manifest_builds_window_start", "manifest_builds", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_manifest_builds_window_start", "manifest_builds")
    op.drop_table("manifest_builds")
