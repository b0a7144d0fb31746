"""orders carry a currency (order.created v2); rows from before are euros

Revision ID: 0005_order_currency
Revises: 0004_events_append_only
Create Date: 2026-12-02 05:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005_order_currency"
down_revision = "0004_events_append_only"
branch_labels = None
depends_on = None

TABLES = ("orders", "order_summaries")


def upgrade():
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
        )


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("currency")
