"""Outbox queries for the relay: claim due deliveries with a lease, mark them, count them.

Claiming is one atomic ``UPDATE … RETURNING`` guarded by the lease, with ``FOR UPDATE
SKIP LOCKED`` in the subquery on PostgreSQL (SQLite drops that clause and serialises
writers instead), so two relays at once never claim the same row.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.infrastructure.messaging.envelope import Envelope
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import Timestamp, events, outbox

ACTIVE = ("pending", "dispatched")


@dataclass(frozen=True)
class ClaimedDelivery:
    delivery_id: int
    handler: str
    envelope: Envelope


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
    """Lease up to ``limit`` due deliveries (or exactly ``ids``) to ``token``."""
    now = utcnow()
    due = sa.and_(outbox.c.status.in_(ACTIVE), outbox.c.available_at <= now, _lease_free(now))
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
    """Published: keep a lease long enough for the task to finish before we send it again.

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
        .where(outbox.c.id.in_(ids), outbox.c.status.in_(ACTIVE), outbox.c.claimed_by == token)
        .values(
            status="dispatched",
            dispatched_at=now,
            lease_until=_redelivery_lease(now, redelivery_after),
            dispatch_count=outbox.c.dispatch_count + 1,
        )
    )


def release(conn: sa.Connection, ids: Sequence[int], *, token: str) -> None:
    """Publishing failed: hand the rows straight back to the next relay sweep."""
    if ids:
        conn.execute(
            outbox.update()
            .where(outbox.c.id.in_(ids), outbox.c.claimed_by == token, outbox.c.status != "done")
            .values(lease_until=None)
        )


def stats(conn: sa.Connection) -> dict[str, Any]:
    now = utcnow()
    by_handler: dict[str, dict[str, int]] = {}
    totals = {"pending": 0, "dispatched": 0, "done": 0, "dead": 0}
    for handler, status, count in conn.execute(
        sa.select(outbox.c.handler, outbox.c.status, sa.func.count()).group_by(
            outbox.c.handler, outbox.c.status
        )
    ):
        per = by_handler.setdefault(handler, dict.fromkeys(totals, 0))
        per[status] = per.get(status, 0) + count
        totals[status] = totals.get(status, 0) + count
    oldest = conn.execute(
        sa.select(sa.func.min(outbox.c.created_at)).where(outbox.c.status.in_(ACTIVE))
    ).scalar()
    age = 0.0 if oldest is None else max(0.0, (now - as_utc(oldest)).total_seconds())
    return {**totals, "oldest_pending_age_seconds": round(age, 3), "by_handler": by_handler}


@dataclass(frozen=True)
class Attempt:
    number: int
    status: str


def begin_attempt(conn: sa.Connection, delivery_id: int, *, lease: timedelta) -> Attempt | None:
    """Count an attempt *before* running the handler, in its own committed transaction.

    Counting first is what catches a delivery that kills its worker: the crash cannot
    undo the count. The lease keeps the relay from sending it again while it runs.
    Returns None when no such delivery exists.
    """
    now = utcnow()
    row = conn.execute(
        outbox.update()
        .where(outbox.c.id == delivery_id, outbox.c.status.in_(ACTIVE))
        .values(attempts=outbox.c.attempts + 1, lease_until=now + lease)
        .returning(outbox.c.attempts, outbox.c.status)
    ).first()
    if row is not None:
        return Attempt(row.attempts, row.status)
    status = conn.execute(
        sa.select(outbox.c.status, outbox.c.attempts).where(outbox.c.id == delivery_id)
    ).first()
    return None if status is None else Attempt(status.attempts, status.status)


def record_failure(conn: sa.Connection, delivery_id: int, *, error: str, lease: timedelta) -> None:
    """A retry is scheduled: note why, and lease the row past the retry's countdown."""
    conn.execute(
        outbox.update()
        .where(outbox.c.id == delivery_id, outbox.c.status.in_(ACTIVE))
        .values(last_error=error[:2000], lease_until=utcnow() + lease)
    )


def purge_done(conn: sa.Connection, *, older_than: timedelta, batch_size: int) -> int:
    """Delete one batch of done deliveries finished before the cutoff; returns how many."""
    cutoff = utcnow() - older_than
    batch = (
        sa.select(outbox.c.id)
        .where(outbox.c.status == "done", outbox.c.done_at < cutoff)
        .order_by(outbox.c.id)
        .limit(batch_size)
    )
    return conn.execute(outbox.delete().where(outbox.c.id.in_(batch.scalar_subquery()))).rowcount
