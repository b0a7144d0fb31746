"""projection checkpoints: an index over unfinished deliveries, and a NOTIFY when one is done

Revision ID: 0007_projection_checkpoints
Revises: 0006_idempotency_keys
Create Date: 2026-12-02 05:15:00

A query sent with X-Min-Position waits until the projections serving it have no unfinished
delivery at or below that position. The partial index keeps that check proportional to
the unfinished rows; on PostgreSQL the trigger wakes the waiters (LISTEN outbox_done)
instead of having them poll.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_projection_checkpoints"
down_revision = "0006_idempotency_keys"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status != 'done'")


def upgrade():
    op.create_index(
        "ix_outbox_unfinished_handler",
        "outbox",
        ["handler", "event_id"],
        unique=False,
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION outbox_notify_done() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('outbox_done', NEW.handler);
                RETURN NULL;
            END
            $$
            """
        )
        op.execute(
            """
            CREATE TRIGGER outbox_done_notify AFTER UPDATE OF status ON outbox
            FOR EACH ROW WHEN (NEW.status = 'done' AND OLD.status IS DISTINCT FROM 'done')
            EXECUTE FUNCTION outbox_notify_done()
            """
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_done_notify ON outbox")
        op.execute("DROP FUNCTION outbox_notify_done()")
    op.drop_index("ix_outbox_unfinished_handler", table_name="outbox")
