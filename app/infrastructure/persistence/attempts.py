"""The outbox rows as a worker moves them: an attempt started, a retry scheduled, done.

These statements run on every delivery, so they are built once, with bound parameters:
building and cache-keying a fresh statement per call was a visible share of a worker's CPU.
"""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import done_counts
from app.infrastructure.persistence.outbox import UNFINISHED
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import Timestamp, handler_receipts, outbox

Status = DeliveryStatus

# Spelled out: inside RETURNING, SQLAlchemy renders column names unqualified, and an
# unqualified event_id in the subquery would mean the receipt's own column.
_RECEIPT_EXISTS = sa.literal_column(
    "EXISTS (SELECT 1 FROM handler_receipts WHERE handler_receipts.event_id ="
    " outbox.event_id AND handler_receipts.handler = outbox.handler)",
    sa.Boolean,
)
_START = (
    outbox.update()
    .where(outbox.c.id == sa.bindparam("delivery_id"), UNFINISHED)
    .values(
        attempts=outbox.c.attempts + 1,
        lease_until=sa.bindparam("lease_until", type_=Timestamp),
        status=Status.RUNNING,
    )
    .returning(outbox.c.attempts, _RECEIPT_EXISTS.label("applied"))
)
_CURRENT = sa.select(outbox.c.attempts, outbox.c.status).where(
    outbox.c.id == sa.bindparam("delivery_id")
)


def start(
    conn: sa.Connection, delivery_id: int, *, lease: timedelta
) -> tuple[int, DeliveryStatus, bool] | None:
    """Count an attempt and mark the row running, in one statement.

    Returns (attempt number, status, whether the handler's receipt already exists), or
    None when no such row exists. A finished row is left alone and reported as it is.
    """
    started = conn.execute(
        _START, {"delivery_id": delivery_id, "lease_until": utcnow() + lease}
    ).first()
    if started is not None:
        return started.attempts, Status.RUNNING, bool(started.applied)
    current = conn.execute(_CURRENT, {"delivery_id": delivery_id}).first()
    return None if current is None else (current.attempts, Status(current.status), False)


def schedule_retry(conn: sa.Connection, delivery_id: int, *, error: str, lease: timedelta) -> None:
    """A retry is scheduled: note why, and lease the row past the retry's countdown."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == delivery_id, UNFINISHED)
        .values(status=Status.RETRY, last_error=error[:2000], lease_until=utcnow() + lease)
    )


def _mark_done() -> Any:
    return (
        outbox.update()
        .where(outbox.c.id == sa.bindparam("delivery_id"), outbox.c.status != Status.DONE)
        .values(
            status=Status.DONE,
            done_at=sa.bindparam("done_at", type_=Timestamp),
            lease_until=None,
            last_error=None,
        )
        .returning(outbox.c.handler)
    )


_MARK_DONE = _mark_done()
_MARK_AND_COUNT_DONE_PG = done_counts.count_up_from(_MARK_DONE.cte("marked"))


def mark_done(conn: sa.Connection, delivery_id: int) -> None:
    """Mark the row done and count it, in the caller's (the handler's) transaction.

    One statement on PostgreSQL (the count rides on the update in a CTE); two on SQLite.
    """
    now, shard = utcnow(), done_counts.shard_of(delivery_id)
    if conn.dialect.name == "postgresql":
        conn.execute(
            _MARK_AND_COUNT_DONE_PG, {"delivery_id": delivery_id, "done_at": now, "shard": shard}
        )
        return
    handler = conn.execute(_MARK_DONE, {"delivery_id": delivery_id, "done_at": now}).scalar()
    if handler is not None:
        conn.execute(done_counts.COUNT_ONE_SQLITE, {"handler": handler, "shard": shard})


def receipt_insert(insert: Any) -> Any:
    """The handler's receipt, unless it exists: ``insert`` is the dialect's INSERT.

    Its parameters are named apart from outbox's columns: an UPDATE that shares a
    statement with it would take a parameter named like one of its columns as a value to SET.
    """
    return (
        insert(handler_receipts)
        .values(
            event_id=sa.bindparam("receipt_event_id"),
            handler=sa.bindparam("receipt_handler"),
            applied_at=sa.bindparam("applied_at", type_=Timestamp),
        )
        .on_conflict_do_nothing()
    )


_RECEIPT_MARK_AND_COUNT_DONE_PG = done_counts.count_up_from(_mark_done().cte("marked")).add_cte(
    receipt_insert(postgresql.insert).cte("receipt")
)
_RECEIPT_SQLITE = receipt_insert(sqlite.insert)


def finish(conn: sa.Connection, delivery_id: int, receipt: tuple[str, str] | None) -> None:
    """Record the receipt (if given) and mark the row done: one statement on PostgreSQL.

    PostgreSQL runs a data-modifying CTE whether or not the statement reads it, so the
    receipt's insert rides on the mark-done statement.
    """
    if receipt is None:
        mark_done(conn, delivery_id)
        return
    event_id, handler = receipt
    now = utcnow()
    receipt_values = {"receipt_event_id": event_id, "receipt_handler": handler, "applied_at": now}
    if conn.dialect.name == "postgresql":
        conn.execute(
            _RECEIPT_MARK_AND_COUNT_DONE_PG,
            {
                **receipt_values,
                "delivery_id": delivery_id,
                "done_at": now,
                "shard": done_counts.shard_of(delivery_id),
            },
        )
        return
    conn.execute(_RECEIPT_SQLITE, receipt_values)
    mark_done(conn, delivery_id)
