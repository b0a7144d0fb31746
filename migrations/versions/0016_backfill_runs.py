"""backfill runs: a handler's backfill started over HTTP, and its progress

Revision ID: 0016_backfill_runs
Revises: 0015_outbox_at_scale
Create Date: 2026-12-08 00:30:00

``POST /api/handlers/<name>/backfill`` queues a run here and a Celery task carries it out,
writing its progress after every batch; ``GET /api/handlers/<name>`` and the ops page read
it. A partial unique index lets at most one run per handler be queued or running.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_backfill_runs"
down_revision = "0015_outbox_at_scale"
branch_labels = None
depends_on = None

ACTIVE = sa.text("state IN ('queued', 'running')")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "backfill_runs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("handler", sa.String(100), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("from_position", sa.BigInteger(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("start_position", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("head_position", sa.BigInteger(), nullable=True),
        sa.Column("events_total", sa.BigInteger(), nullable=True),
        sa.Column("events_scanned", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("deliveries_added", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("gaps_filled", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_runs")),
    )
    op.create_index("ix_backfill_runs_handler", "backfill_runs", ["handler", "id"])
    op.create_index(
        "uq_backfill_runs_active",
        "backfill_runs",
        ["handler"],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def downgrade():
    op.drop_index("uq_backfill_runs_active", table_name="backfill_runs")
    op.drop_index("ix_backfill_runs_handler", table_name="backfill_runs")
    op.drop_table("backfill_runs")
