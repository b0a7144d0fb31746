"""ops-page sessions that signing out ends

Revision ID: 0011_ops_sessions
Revises: 0010_purged_dead_deliveries
Create Date: 2026-12-07 18:40:00

The ops page's session cookie held only an HMAC of the admin token, the same for every
sign-in: a copy saved before signing out still opened the page. Each sign-in now has a
row here, which signing out deletes; a cookie whose row is gone opens nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_ops_sessions"
down_revision = "0010_purged_dead_deliveries"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ops_sessions",
        sa.Column("id_digest", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_digest", name=op.f("pk_ops_sessions")),
    )


def downgrade():
    op.drop_table("ops_sessions")
