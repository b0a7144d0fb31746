"""The outbox table: delivery rows written with their events, claimed, marked and counted.

Claiming is one atomic ``UPDATE … RETURNING`` guarded by the lease, with ``FOR UPDATE
SKIP LOCKED`` in the subquery on PostgreSQL (SQLite drops that clause and serialises
writers instead), so two relays at once never claim the same row.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.application.ports import DeliveryStatus
from app.infrastructure.messaging.codec import Envelope
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import (
    NOT_DONE,
    Timestamp,
    events,
    outbox,
    outbox_done_counts,
)

Status = DeliveryStatus
DONE_COUNT_SHARDS = 16
"""Must match the migration that created ``outbox_done_counts``."""


def _literal_statuses(statuses: Iterable[DeliveryStatus]) -> sa.ColumnElement[bool]:
    """``status IN (...)`` with the values inlined, so PostgreSQL can match the partial
    indexes (a bound parameter would hide from the planner that 'done' is excluded)."""
    return sa.and_(NOT_DONE, outbox.c.status.in_([sa.literal_column(f"'{s}'") for s in statuses]))


UNFINISHED = _literal_statuses(DeliveryStatus.unfinished())


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: int
    handler: str
    envelope: Envelope


def append(
    conn: sa.Connection,
    envelopes: Sequence[Envelope],
    subscribers: Any,
    *,
    dispatch_lease: timedelta | None,
) -> list[ClaimedDelivery]:
    """Insert one delivery per event and subscribed handler, in the caller's transaction.

    With a ``dispatch_lease`` the rows are written already ``dispatched``, leased for
    that long: the caller publishes them right after commit, and the relay takes them
    again only if nothing has started them when the lease runs out. Without one they
    are ``pending`` for the relay's next sweep.
    """
    wanted = [(e, handler) for e in envelopes for handler in subscribers(e.event_type)]
    if not wanted:
        return []
    now = utcnow()
    if dispatch_lease is None:
        state: dict[str, Any] = {"status": Status.PENDING}
    else:
        state = {
            "status": Status.DISPATCHED,
            "dispatched_at": now,
            "dispatch_count": 1,
            "lease_until": now + dispatch_lease,
        }
    rows = [
        {
            "event_id": e.event_id,
            "handler": handler,
            "available_at": now,
            "created_at": now,
            **state,
        }
        for e, handler in wanted
    ]
    ids = conn.execute(
        outbox.insert().returning(outbox.c.id, sort_by_parameter_order=True), rows
    ).scalars()
    return [ClaimedDelivery(i, h, e) for i, (e, h) in zip(ids, wanted, strict=True)]


def _lease_free(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now)


def claim(
    conn: sa.Connection,
    *,
    token: str,
    lease: timedelta,
    limit: int,
    ids: Sequence[int] | None = None,
) -> list[ClaimedDelivery]:
    """Lease up to ``limit`` due deliveries (or only those of ``ids``), oldest first."""
    now = utcnow()
    due = sa.and_(UNFINISHED, outbox.c.available_at <= now, _lease_free(now))
    if ids is not None:
        due = sa.and_(due, outbox.c.id.in_(ids))
    candidates = (
        sa.select(outbox.c.id)
        .where(due)
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(candidates.scalar_subquery()), _lease_free(now))
        .values(lease_until=now + lease, claimed_by=token)
        .returning(outbox.c.id, outbox.c.handler, outbox.c.event_id)
    ).all()
    if not claimed:
        return []
    rows = {
        row.event_id: row
        for row in conn.execute(
            sa.select(events).where(events.c.event_id.in_({c.event_id for c in claimed}))
        )
    }
    return sorted(
        (ClaimedDelivery(c.id, c.handler, envelope_from_row(rows[c.event_id])) for c in claimed),
        key=lambda d: d.delivery_id,
    )


REDELIVERY_DOUBLINGS = 3
"""How often a re-published row's lease doubles: at most 2**3 times ``redelivery_after``."""


def _redelivery_lease(now: datetime, base: timedelta) -> sa.ColumnElement[datetime]:
    """``now + base * 2**dispatch_count``, the exponent capped at ``REDELIVERY_DOUBLINGS``."""
    whens = {n: sa.literal(now + base * 2**n, Timestamp) for n in range(REDELIVERY_DOUBLINGS)}
    longest = sa.literal(now + base * 2**REDELIVERY_DOUBLINGS, Timestamp)
    return sa.case(whens, value=outbox.c.dispatch_count, else_=longest)


def mark_dispatched(
    conn: sa.Connection, ids: Sequence[int], *, token: str, redelivery_after: timedelta
) -> None:
    """Published by the relay: lease the rows long enough for their tasks to start.

    The first publish waits ``redelivery_after``; each re-publish of the same row waits
    twice as long as the one before (up to 8 times). A queue backlog longer than
    ``redelivery_after`` is then sent again a few times in all, rather than once more per
    period, which would lengthen the very backlog that caused it.
    """
    if not ids:
        return
    now = utcnow()
    conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(ids), UNFINISHED, outbox.c.claimed_by == token)
        .values(
            status=Status.DISPATCHED,
            dispatched_at=now,
            lease_until=_redelivery_lease(now, redelivery_after),
            dispatch_count=outbox.c.dispatch_count + 1,
        )
    )


def release(conn: sa.Connection, ids: Sequence[int], *, token: str | None) -> None:
    """Publishing failed: hand the rows straight back to the next relay sweep.

    ``token`` is the relay's claim; None releases rows written already dispatched by a
    command whose publish after commit failed (only those still untouched by a worker).
    """
    if not ids:
        return
    if token is None:
        owned = sa.and_(outbox.c.status == Status.DISPATCHED, outbox.c.attempts == 0)
        values: dict[str, Any] = {"lease_until": None, "status": Status.PENDING}
    else:
        owned = sa.and_(outbox.c.claimed_by == token, UNFINISHED)
        values = {"lease_until": None}
    conn.execute(outbox.update().where(outbox.c.id.in_(ids), owned).values(**values))


def republish_unstarted(conn: sa.Connection) -> int:
    """The broker lost its queues: make every dispatched, unstarted row due right now."""
    return conn.execute(
        outbox.update()
        .where(UNFINISHED, outbox.c.status == Status.DISPATCHED)
        .values(lease_until=None)
    ).rowcount


# The statements every delivery runs are built once, with bound parameters: building and
# cache-keying a fresh statement per call was a visible share of a worker's CPU.

# Spelled out: inside RETURNING, SQLAlchemy renders column names unqualified, and an
# unqualified event_id in the subquery would mean the receipt's own column.
_RECEIPT_EXISTS = sa.literal_column(
    "EXISTS (SELECT 1 FROM handler_receipts WHERE handler_receipts.event_id ="
    " outbox.event_id AND handler_receipts.handler = outbox.handler)",
    sa.Boolean,
)
_START_ATTEMPT = (
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


def start_attempt(
    conn: sa.Connection, delivery_id: int, *, lease: timedelta
) -> tuple[int, DeliveryStatus, bool] | None:
    """Count an attempt and mark the row running, in one statement.

    Returns (attempt number, status, whether the handler's receipt already exists), or
    None when no such row exists. A finished row is left alone and reported as it is.
    """
    started = conn.execute(
        _START_ATTEMPT, {"delivery_id": delivery_id, "lease_until": utcnow() + lease}
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


_MARK_DONE = (
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


def _count_up(insert: Any) -> Any:
    return insert.on_conflict_do_update(
        index_elements=["handler", "shard"],
        set_={"done": outbox_done_counts.c.done + insert.excluded.done},
    )


_MARKED = _MARK_DONE.cte("marked")
_MARK_AND_COUNT_DONE_PG = _count_up(
    postgresql.insert(outbox_done_counts).from_select(
        ["handler", "shard", "done"],
        sa.select(
            _MARKED.c.handler,
            sa.bindparam("shard", type_=sa.SmallInteger),
            sa.literal(1, sa.BigInteger),
        ),
    )
)
_COUNT_DONE_SQLITE = _count_up(
    sqlite.insert(outbox_done_counts).values(
        handler=sa.bindparam("handler"), shard=sa.bindparam("shard"), done=1
    )
)


def mark_done(conn: sa.Connection, delivery_id: int) -> None:
    """Mark the row done and count it, in the caller's (the handler's) transaction.

    One statement on PostgreSQL (the count rides on the update in a CTE); two on SQLite.
    """
    now, shard = utcnow(), delivery_id % DONE_COUNT_SHARDS
    if conn.dialect.name == "postgresql":
        conn.execute(
            _MARK_AND_COUNT_DONE_PG, {"delivery_id": delivery_id, "done_at": now, "shard": shard}
        )
        return
    handler = conn.execute(_MARK_DONE, {"delivery_id": delivery_id, "done_at": now}).scalar()
    if handler is not None:
        conn.execute(_COUNT_DONE_SQLITE, {"handler": handler, "shard": shard})


def stats(conn: sa.Connection) -> dict[str, Any]:
    """Counts per handler and status, and the oldest waiting ages; never scans done rows."""
    now = utcnow()
    statuses = [s.value for s in DeliveryStatus]
    totals = dict.fromkeys(statuses, 0)
    by_handler: dict[str, dict[str, int]] = {}

    def add(handler: str, status: str, count: int) -> None:
        per = by_handler.setdefault(handler, dict.fromkeys(statuses, 0))
        per[status] += count
        totals[status] += count

    for handler, done in conn.execute(
        sa.select(outbox_done_counts.c.handler, sa.func.sum(outbox_done_counts.c.done)).group_by(
            outbox_done_counts.c.handler
        )
    ):
        if done:
            add(handler, Status.DONE, int(done))
    oldest_pending: datetime | None = None
    oldest_dispatched: datetime | None = None
    for handler, status, count, created, dispatched in conn.execute(
        sa.select(
            outbox.c.handler,
            outbox.c.status,
            sa.func.count(),
            sa.func.min(outbox.c.created_at),
            sa.func.min(outbox.c.dispatched_at),
        )
        .where(NOT_DONE)
        .group_by(outbox.c.handler, outbox.c.status)
    ):
        add(handler, status, count)
        if status == Status.PENDING:
            oldest_pending = _earliest(oldest_pending, created)
        elif status in (Status.DISPATCHED, Status.RUNNING, Status.RETRY):
            oldest_dispatched = _earliest(oldest_dispatched, dispatched or created)
    return {
        **totals,
        "oldest_pending_age_seconds": _age(now, oldest_pending),
        "oldest_dispatched_age_seconds": _age(now, oldest_dispatched),
        "by_handler": by_handler,
    }


def _earliest(known: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return known
    candidate = as_utc(candidate)
    return candidate if known is None or candidate < known else known


def _age(now: datetime, since: datetime | None) -> float:
    return 0.0 if since is None else round(max(0.0, (now - since).total_seconds()), 3)


def purge_done(conn: sa.Connection, *, older_than: timedelta, batch_size: int) -> int:
    """Delete one batch of done deliveries finished before the cutoff; returns how many.

    The done counters are lowered in the same transaction, so they keep matching the
    rows the outbox holds.
    """
    cutoff = utcnow() - older_than
    batch = (
        sa.select(outbox.c.id)
        .where(outbox.c.status == Status.DONE, outbox.c.done_at < cutoff)
        .order_by(outbox.c.id)
        .limit(batch_size)
    )
    deleted = conn.execute(
        outbox.delete()
        .where(outbox.c.id.in_(batch.scalar_subquery()))
        .returning(outbox.c.id, outbox.c.handler)
    ).all()
    purged: dict[tuple[str, int], int] = {}
    for delivery_id, handler in deleted:
        key = (handler, delivery_id % DONE_COUNT_SHARDS)
        purged[key] = purged.get(key, 0) + 1
    for (handler, shard), count in purged.items():
        conn.execute(
            outbox_done_counts.update()
            .where(outbox_done_counts.c.handler == handler, outbox_done_counts.c.shard == shard)
            .values(done=outbox_done_counts.c.done - count)
        )
    return len(deleted)
