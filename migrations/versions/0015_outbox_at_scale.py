"""outbox at scale: an index of claimable rows only, and autovacuum tuned for a queue table

Revision ID: 0015_outbox_at_scale
Revises: 0014_ordered_deliveries
Create Date: 2026-12-07 22:00:00

The relay's claim and its ``has_pending`` poll read ``ix_outbox_claimable``, which holds
only pending, dispatched, running and retrying rows: dead and skipped deliveries (which
pile up with history until an operator acts) and held ones are not read on every poll.

PostgreSQL: the outbox is vacuumed after a fixed number of changed rows rather than a
fifth of the table (the default), so dead row versions left by each delivery's status
changes and by the retention purge are reclaimed while they are few, whatever the table's
size. The retention task vacuums it too, for servers whose autovacuum is off.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_outbox_at_scale"
down_revision = "0014_ordered_deliveries"
branch_labels = None
depends_on = None

CLAIMABLE = sa.text("status IN ('pending', 'dispatched', 'running', 'retry')")
AUTOVACUUM = {
    "autovacuum_vacuum_scale_factor": "0",
    "autovacuum_vacuum_threshold": "10000",
    "autovacuum_vacuum_insert_scale_factor": "0",
    "autovacuum_vacuum_insert_threshold": "10000",
    "autovacuum_analyze_scale_factor": "0.02",
}


def upgrade():
    op.create_index(
        "ix_outbox_claimable",
        "outbox",
        ["id"],
        postgresql_where=CLAIMABLE,
        sqlite_where=CLAIMABLE,
    )
    if op.get_bind().dialect.name == "postgresql":
        options = ", ".join(f"{name} = {value}" for name, value in AUTOVACUUM.items())
        op.execute(f"ALTER TABLE outbox SET ({options})")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE outbox RESET ({', '.join(AUTOVACUUM)})")
    op.drop_index("ix_outbox_claimable", table_name="outbox")
