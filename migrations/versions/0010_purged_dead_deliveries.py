"""what a dead-letter purge deleted from the outbox

Revision ID: 0010_purged_dead_deliveries
Revises: 0009_receipts_by_time
Create Date: 2026-12-02 18:40:00

Purging a dead letter deletes its dead delivery, and the event's deliveries and traces
then left it out without a word. The purge now records each delivery it deletes here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_purged_dead_deliveries"
down_revision = "0009_receipts_by_time"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "purged_dead_deliveries",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("handler", sa.String(100), primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("purged_dead_deliveries")
