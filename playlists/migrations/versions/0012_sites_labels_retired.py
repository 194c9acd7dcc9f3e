"""Sites as their own records, groups' display names per language, retired screens.

Revision ID: 0012
Revises: 0011

Screens and users keep naming their site by its name (Screen.site, User.sites), so every reader of those
columns goes on working; the sites table is the list staff choose from and rename, and a rename rewrites the
name on screens and in users' scopes in the same transaction (playlists.screens.rename_site).
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("groups", sa.Column("label_vi", sa.String(200), nullable=False, server_default=""))
    op.add_column("groups", sa.Column("label_en", sa.String(200), nullable=False, server_default=""))
    op.add_column("screens", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_screens_retired_at", "screens", ["retired_at"])
    sites = op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("district", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # The sites screens and users name already become records, so nothing is lost and nothing renamed.
    conn = op.get_bind()
    found: dict[str, str] = {}
    for site, district in conn.execute(sa.text("SELECT site, district FROM screens ORDER BY id")):
        if site and site.strip():
            found.setdefault(site.strip(), (district or "").strip())
    for (text,) in conn.execute(sa.text("SELECT sites FROM users")):
        for name in (text or "").splitlines():
            if name.strip():
                found.setdefault(name.strip(), "")
    if found:
        at = datetime.now(UTC)
        op.bulk_insert(sites, [{"name": n[:200], "district": d[:200], "created_at": at}
                               for n, d in sorted(found.items())])


def downgrade() -> None:
    op.drop_table("sites")
    op.drop_index("ix_screens_retired_at", "screens")
    with op.batch_alter_table("screens") as batch:
        batch.drop_column("retired_at")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("label_en")
        batch.drop_column("label_vi")
