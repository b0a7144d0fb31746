"""projection checkpoints: a NOTIFY whenever a delivery is done (PostgreSQL)

Revision ID: 0007_projection_checkpoints
Revises: 0006_idempotency_keys
Create Date: 2026-12-02 05:15:00

A query sent with X-Min-Position waits until the projections serving it have no unfinished
delivery at or below that position (0003's partial index over unfinished rows keeps that
check cheap). On PostgreSQL this trigger wakes the waiters (LISTEN outbox_done) instead of
having them poll.
"""

from alembic import op

revision = "0007_projection_checkpoints"
down_revision = "0006_idempotency_keys"
branch_labels = None
depends_on = None


def upgrade():
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
