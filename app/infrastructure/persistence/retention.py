"""Retention: done deliveries are deleted once they are older than the retention period.

Each batch is its own short transaction, so the purge never holds locks for long, and
lowers the done counters in that transaction, so they keep matching the rows the outbox holds.
"""

import logging
from datetime import timedelta

import sqlalchemy as sa

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import delivery_states, done_counts
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import outbox

log = logging.getLogger(__name__)


def purge_done_deliveries(engine: sa.Engine, older_than: timedelta, batch_size: int) -> int:
    """Delete done deliveries past retention, batch after batch; returns how many in all."""
    total = 0
    while True:
        with engine.begin() as conn:
            deleted = purge_done(conn, older_than=older_than, batch_size=batch_size)
        total += deleted
        if deleted < batch_size:
            if total:
                log.info("retention: deleted %d done deliveries older than %s", total, older_than)
            return total


def purge_done(conn: sa.Connection, *, older_than: timedelta, batch_size: int) -> int:
    """Delete one batch of done deliveries finished before the cutoff; returns how many."""
    cutoff = utcnow() - older_than
    batch = (
        sa.select(outbox.c.id)
        .where(delivery_states.in_status([DeliveryStatus.DONE]), outbox.c.done_at < cutoff)
        .order_by(outbox.c.id)
        .limit(batch_size)
    )
    deleted = conn.execute(
        outbox.delete()
        .where(outbox.c.id.in_(batch.scalar_subquery()))
        .returning(outbox.c.id, outbox.c.handler)
    ).all()
    done_counts.count_down(conn, deleted)
    return len(deleted)
