"""loyalty points are 64-bit

Revision ID: 0012_loyalty_points_bigint
Revises: 0011_ops_sessions
Create Date: 2026-12-07 19:00:00

One point per whole unit paid, and an order may be paid up to 10^12: a 32-bit column
refused the award of a 3,000,000,000.00 order ("integer out of range" on PostgreSQL) on
every re-drive. BIGINT holds the points of millions of orders of the largest amount.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_loyalty_points_bigint"
down_revision = "0011_ops_sessions"
branch_labels = None
depends_on = None

TABLES = ("users", "user_profiles")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "loyalty_points",
                type_=sa.BigInteger(),
                existing_type=sa.Integer(),
                existing_nullable=False,
            )


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "loyalty_points",
                type_=sa.Integer(),
                existing_type=sa.BigInteger(),
                existing_nullable=False,
            )
