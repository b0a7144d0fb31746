"""outbox: partial indexes over unfinished rows, done counters, broker canaries

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 05:10:00

The stats and the relay's claims read only rows that are not done, through partial
indexes; the count of done rows per handler is kept in ``outbox_done_counts`` instead of
being counted each time. Existing done rows are counted once here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NOT_DONE = sa.text("status <> 'done'")
SHARDS = 16


def upgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_available")
        batch_op.create_index(
            "ix_outbox_unfinished",
            ["id"],
            unique=False,
            postgresql_where=NOT_DONE,
            sqlite_where=NOT_DONE,
        )
        batch_op.create_index(
            "ix_outbox_unfinished_by_handler",
            ["handler", "status", "created_at", "dispatched_at"],
            unique=False,
            postgresql_where=NOT_DONE,
            sqlite_where=NOT_DONE,
        )
    op.create_table(
        "broker_canaries",
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("broker", name=op.f("pk_broker_canaries")),
    )
    op.create_table(
        "outbox_done_counts",
        sa.Column("handler", sa.String(length=100), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("done", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("handler", "shard", name=op.f("pk_outbox_done_counts")),
    )
    op.execute(
        "INSERT INTO outbox_done_counts (handler, shard, done) "
        f"SELECT handler, id % {SHARDS}, count(*) FROM outbox WHERE status = 'done' "
        f"GROUP BY handler, id % {SHARDS}"
    )


def downgrade():
    op.drop_table("outbox_done_counts")
    op.drop_table("broker_canaries")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unfinished_by_handler")
        batch_op.drop_index("ix_outbox_unfinished")
        batch_op.create_index(
            "ix_outbox_status_available", ["status", "available_at"], unique=False
        )
