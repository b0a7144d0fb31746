"""ordered deliveries: each delivery's order key and place, skipped dead letters, and a
NOTIFY when a held delivery is released (PostgreSQL)

Revision ID: 0014_ordered_deliveries
Revises: 0013_relay_wakeups
Create Date: 2026-12-07 21:40:00

An ordered handler's deliveries of one key (an aggregate, by default) go one at a time, in
the event store's order: ``order_key`` and ``order_seq`` say which key and where, and the
partial index over open rows finds what holds a delivery back. A held delivery is released
by an UPDATE to ``pending``, which now NOTIFYs the following relay as an insert does (a row
trigger whose WHEN clause costs other updates nothing but the comparison).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_ordered_deliveries"
down_revision = "0013_relay_wakeups"
branch_labels = None
depends_on = None

NOT_DONE = sa.text("status <> 'done'")
RELEASE_TRIGGER = """
CREATE TRIGGER outbox_notify_released AFTER UPDATE OF status ON outbox
FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status <> 'pending')
EXECUTE FUNCTION outbox_notify_pending()
"""


def upgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("order_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("order_seq", sa.BigInteger, nullable=True))
    op.create_index(
        "ix_outbox_ordered_open",
        "outbox",
        ["handler", "order_key", "order_seq"],
        postgresql_where=NOT_DONE,
        sqlite_where=NOT_DONE,
    )
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("skipped_by", sa.String(200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RELEASE_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_notify_released ON outbox")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("skipped_by")
        batch.drop_column("skipped_at")
    op.drop_index("ix_outbox_ordered_open", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("order_seq")
        batch.drop_column("order_key")
