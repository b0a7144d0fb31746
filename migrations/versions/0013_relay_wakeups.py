"""relay heartbeats, and a NOTIFY at the commit of new deliveries (PostgreSQL)

Revision ID: 0013_relay_wakeups
Revises: 0012_loyalty_points_bigint
Create Date: 2026-12-07 19:10:00

Commands no longer publish: a following relay (``flask --app app outbox relay --follow``)
does. On PostgreSQL it LISTENs on ``outbox_pending``; a statement-level trigger on the
outbox's inserts NOTIFYs it, and PostgreSQL delivers a NOTIFY only when the transaction that
issued it commits, folding a transaction's repeats into one. The trigger costs the command no
round trip. Each relay records a heartbeat, which /readyz and /metrics report.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_relay_wakeups"
down_revision = "0012_loyalty_points_bigint"
branch_labels = None
depends_on = None

NOTIFY_FUNCTION = """
CREATE FUNCTION outbox_notify_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_pending', '');
    RETURN NULL;
END
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER outbox_notify_pending AFTER INSERT ON outbox
FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify_pending()
"""


def upgrade():
    op.create_table(
        "relay_heartbeats",
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_relay_heartbeats")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)
        op.execute(NOTIFY_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_notify_pending ON outbox")
        op.execute("DROP FUNCTION outbox_notify_pending()")
    op.drop_table("relay_heartbeats")
