"""The outbox rows as a worker moves them: an attempt started, a retry scheduled, done.

These statements run on every delivery, so they are built once, with bound parameters:
building and cache-keying a fresh statement per call was a visible share of a worker's CPU.
Each move is one of ``delivery_states``' statements, which set the status and guard the move.
"""

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.application.ports import Attempt, DeliveryStatus
from app.infrastructure.persistence import delivery_states as states
from app.infrastructure.persistence import done_counts
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import (
    Timestamp,
    events,
    handler_receipts,
    outbox,
)

# Spelled out: inside RETURNING, SQLAlchemy renders column names unqualified, and an
# unqualified event_id in the subquery would mean the receipt's own column.
_RECEIPT_EXISTS = sa.literal_column(
    "EXISTS (SELECT 1 FROM handler_receipts WHERE handler_receipts.event_id ="
    " outbox.event_id AND handler_receipts.handler = outbox.handler)",
    sa.Boolean,
)
_EVENT_COLUMNS = (
    events.c.event_id,
    events.c.event_type,
    events.c.schema_version,
    events.c.aggregate_type,
    events.c.aggregate_id,
    events.c.aggregate_version,
    events.c.occurred_at,
    events.c.correlation_id,
    events.c.causation_id,
    events.c.payload,
)
# PostgreSQL returns the stored event with the counted attempt (UPDATE … FROM events);
# SQLite's RETURNING may name only the updated table, so it reads the event next.
_START_PG = states.ATTEMPT_STARTED.where(events.c.event_id == outbox.c.event_id).returning(
    outbox.c.attempts,
    _RECEIPT_EXISTS.label("applied"),
    states.BEHIND.label("behind"),
    *_EVENT_COLUMNS,
)
_START_SQLITE = states.ATTEMPT_STARTED.returning(
    outbox.c.attempts, _RECEIPT_EXISTS.label("applied"), states.BEHIND.label("behind")
)
_STORED_EVENT = sa.select(*_EVENT_COLUMNS).where(events.c.event_id == sa.bindparam("event_id"))
_CURRENT = sa.select(outbox.c.attempts, outbox.c.status, outbox.c.handler, outbox.c.event_id).where(
    outbox.c.id == sa.bindparam("delivery_id")
)


def start(
    conn: sa.Connection, delivery_id: int, handler: str, event_id: str, *, lease: timedelta
) -> Attempt | None:
    """Count an attempt, mark the row running and read its stored event: one statement on
    PostgreSQL, two on SQLite. An ordered row also says whether one of its key is open
    ahead of it (``Attempt.behind``).

    Only the row whose handler and event are the ones named is started; any other row is
    reported as it is, untouched (a finished one, or one that belongs to another handler
    or event: a message that says otherwise is not this row's). None: no such row.
    """
    params = {
        "delivery_id": delivery_id,
        "of_handler": handler,
        "of_event_id": event_id,
        "lease_until": utcnow() + lease,
    }
    if conn.dialect.name == "postgresql":
        started = stored = conn.execute(_START_PG, params).first()
    else:
        started = conn.execute(_START_SQLITE, params).first()
        if started is not None:
            stored = conn.execute(_STORED_EVENT, {"event_id": event_id}).one()
    if started is not None:
        return Attempt(
            started.attempts,
            DeliveryStatus.RUNNING,
            handler,
            event_id,
            applied_before=bool(started.applied),
            stored_event=stored,
            behind=started.behind,
        )
    current = conn.execute(_CURRENT, {"delivery_id": delivery_id}).first()
    if current is None:
        return None
    return Attempt(
        current.attempts, DeliveryStatus(current.status), current.handler, current.event_id
    )


def schedule_retry(conn: sa.Connection, delivery_id: int, *, error: str, lease: timedelta) -> None:
    """A retry is scheduled: note why, and lease the row past the retry's countdown."""
    conn.execute(states.retry_scheduled(delivery_id, error=error, lease_until=utcnow() + lease))


_MARK_DONE = states.marked_done()
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


def receipt_insert(
    insert: Callable[[sa.Table], postgresql.Insert | sqlite.Insert],
) -> postgresql.Insert | sqlite.Insert:
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


_RECEIPT_MARK_AND_COUNT_DONE_PG = done_counts.count_up_from(
    states.marked_done().cte("marked")
).add_cte(receipt_insert(postgresql.insert).cte("receipt"))
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
