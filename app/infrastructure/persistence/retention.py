"""Retention: done deliveries are deleted once they are older than the retention period.

Each batch is its own short transaction, so the purge never holds locks for long, and
lowers the done counters in that transaction, so they keep matching the rows the outbox holds.

On PostgreSQL every purge ends with a plain ``VACUUM`` of the outbox: the space of the
deleted rows, and of the row versions each delivery's status changes left behind since
the last one, is reused by the next inserts instead of growing the table, even where
autovacuum is off or has not come round yet. See docs/operations.md, "Retention and table size".
"""

import logging
from datetime import timedelta

import sqlalchemy as sa

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import delivery_states, done_counts
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import outbox

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
"""Done deliveries deleted per short transaction."""


class Retention:
    """The purge beat's retention task runs: done deliveries older than ``older_than``."""

    def __init__(self, engine: sa.Engine, older_than: timedelta) -> None:
        self._engine = engine
        self._older_than = older_than

    def purge(self) -> int:
        """Delete every done delivery past retention, ``BATCH_SIZE`` per transaction;
        returns how many in all."""
        return purge_done_deliveries(self._engine, self._older_than, BATCH_SIZE)


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
            vacuum_outbox(engine)
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


def vacuum_outbox(engine: sa.Engine) -> None:
    """PostgreSQL: ``VACUUM`` the outbox (not FULL: reads and writes go on meanwhile).

    Skipped when another vacuum of it (autovacuum's) holds the table: that one does the
    same work. Elsewhere (SQLite) a no-op.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {outbox.name}")
