"""Backfill: give one handler a delivery for every stored event it subscribes to and lacks.

A handler added (or enabled) later gets deliveries only for events recorded from then on;
a backfill gives it the history. It walks the event store by position, batch after batch,
and inserts one ``pending`` delivery per subscribed event with ``ON CONFLICT DO NOTHING`` on
the (event, handler) key: an event that already has a delivery for the handler, live or from
an earlier run, keeps it, so no event is delivered twice and a second run adds nothing. No
other handler's rows are touched.

Why no event is skipped, whatever order concurrent transactions commit in: positions are
allocated when a transaction inserts its events, but become visible only at its commit. A
scan that reads past position *p* while the transaction holding *p* is still open sees a gap
there. The walk notes every gap it passes (the store's positions are dense apart from such
holes and rolled-back transactions). When it reaches the end of what it can see, it sets a
barrier: a transaction that takes the events table in SHARE mode (on SQLite, the write lock),
which waits for every transaction that is writing events to end and holds new ones off for
the moment it takes to read the newest position. After the barrier every position up to that
one is final, so the walk reads the gaps again (a late commit fills its gap; a rolled-back
one stays empty) and then the rest up to the barrier's position. No timeout is involved.
Events written after the barrier come from processes that already subscribe the handler
(run a backfill once every process has the new configuration), so they have live deliveries.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.application.event_handlers.specs import HandlerSpec
from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import delivery_states as states
from app.infrastructure.persistence import ordering
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import events, outbox


@dataclass
class BackfillReport:
    handler: str
    start_position: int
    """The walk began after this position."""
    end_position: int = 0
    """The barrier's position: every event up to it was considered."""
    scanned: int = 0
    """Subscribed events read."""
    added: int = 0
    """Deliveries inserted (0 on a dry run, and on a second run)."""
    missing: int = 0
    """Subscribed events without a delivery for the handler (what a real run would add)."""
    gaps_filled: int = 0
    """Events that were not yet visible when first passed and were found after the barrier."""
    seconds: float = 0.0
    dry_run: bool = False
    gaps: set[int] = field(default_factory=set, repr=False)

    @property
    def events_per_second(self) -> float:
        return self.scanned / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int, int], None]
"""``progress(events_done, events_total)``, after each batch (the total may grow)."""

Checkpoint = Callable[[BackfillReport, int, int], None]
"""``checkpoint(report, position_reached, head_position)``, after each batch and at the
end: what a recorded run (``backfill_runs``) writes down. Raising stops the walk there."""


def start_after(conn: sa.Connection, *, from_position: int | None, since: datetime | None) -> int:
    """The position the walk starts after: ``from_position - 1``, the last event before
    ``since``, or 0 (the whole store)."""
    if from_position is not None:
        return max(0, from_position - 1)
    if since is not None:
        first = conn.execute(
            sa.select(sa.func.min(events.c.position)).where(events.c.occurred_at >= since)
        ).scalar()
        return int(first) - 1 if first is not None else newest_position(conn)
    return 0


def newest_position(conn: sa.Connection) -> int:
    return int(
        conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0))).scalar_one()
    )


def count_subscribed(conn: sa.Connection, spec: HandlerSpec, after: int) -> int:
    """How many events the walk will read (for the progress bar's length)."""
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(
                events.c.position > after, events.c.event_type.in_(sorted(spec.event_types))
            )
        ).scalar_one()
    )


def barrier(engine: sa.Engine, *, poll_seconds: float = 0.05) -> int:
    """The newest position after which nothing older can still appear.

    PostgreSQL: read the newest visible position and the snapshot's open transactions in
    one statement, then wait until each of them has ended (none is blocked meanwhile). A
    position at or below the one read was allocated before the snapshot, so it belongs to a
    transaction that had committed, was open (and has now ended) or rolled back. SQLite
    has one writer at a time: taking the write lock waits for it.
    """
    with engine.begin() as conn:
        if conn.dialect.name != "postgresql":
            return newest_position(conn)
        row = conn.execute(
            sa.text(
                "SELECT (SELECT coalesce(max(position), 0) FROM events) AS newest,"
                " ARRAY(SELECT pg_snapshot_xip(pg_current_snapshot())::text) AS open"
            )
        ).one()
    newest, open_transactions = int(row.newest), [int(x) for x in row.open]
    while open_transactions:
        with engine.connect() as conn:
            open_transactions = [
                int(x)
                for x in conn.execute(
                    sa.text(
                        "SELECT x FROM unnest(CAST(:xids AS text[])) AS x"
                        " WHERE pg_xact_status(CAST(x AS xid8)) = 'in progress'"
                    ),
                    {"xids": [str(x) for x in open_transactions]},
                ).scalars()
            ]
        if open_transactions:
            time.sleep(poll_seconds)
    return newest


def scan_range(
    conn: sa.Connection,
    spec: HandlerSpec,
    report: BackfillReport,
    after: int,
    upto: int,
) -> int:
    """Backfill the events in ``(after, upto]``; note the positions not visible yet.
    Returns how many subscribed events it read."""
    visible = list(
        conn.execute(
            sa.select(events.c.position).where(events.c.position > after, events.c.position <= upto)
        ).scalars()
    )
    report.gaps.update(set(range(after + 1, upto + 1)) - set(visible))
    return _deliver(conn, spec, report, events.c.position > after, events.c.position <= upto)


def fill_gaps(conn: sa.Connection, spec: HandlerSpec, report: BackfillReport) -> int:
    """After the barrier: the events that have since appeared at noted gaps."""
    if not report.gaps:
        return 0
    found = 0
    gaps = sorted(report.gaps)
    for start in range(0, len(gaps), 1000):
        found += _deliver(conn, spec, report, events.c.position.in_(gaps[start : start + 1000]))
    report.gaps_filled += found
    report.gaps.clear()
    return found


def _deliver(conn: sa.Connection, spec: HandlerSpec, report: BackfillReport, *where: Any) -> int:
    rows = conn.execute(
        sa.select(
            events.c.event_id,
            events.c.position,
            events.c.event_type,
            events.c.aggregate_type,
            events.c.aggregate_id,
        )
        .where(*where, events.c.event_type.in_(sorted(spec.event_types)))
        .order_by(events.c.position)
    ).all()
    report.scanned += len(rows)
    if not rows:
        return 0
    have = set(
        conn.execute(
            sa.select(outbox.c.event_id).where(
                outbox.c.handler == spec.name,
                outbox.c.event_id.in_([r.event_id for r in rows]),
            )
        ).scalars()
    )
    wanted = [r for r in rows if r.event_id not in have]
    report.missing += len(wanted)
    if report.dry_run or not wanted:
        return len(rows)
    now = utcnow()
    values = [
        {
            "event_id": r.event_id,
            "handler": spec.name,
            "available_at": now,
            "created_at": now,
            **states.created(DeliveryStatus.PENDING),
            **ordering.place(spec.name, r, r.position),
        }
        for r in wanted
    ]
    if conn.dialect.name == "postgresql":
        insert: Any = postgresql.insert(outbox).on_conflict_do_nothing()
    else:
        insert = sqlite.insert(outbox).on_conflict_do_nothing()
    inserted = conn.execute(insert.returning(outbox.c.id), values).all()
    report.added += len(inserted)
    return len(rows)


class Backfill:
    """One handler's backfill, batch by batch, each batch its own short transaction."""

    def __init__(
        self,
        engine: sa.Engine,
        spec: HandlerSpec,
        *,
        batch_size: int = 1000,
        rate: float | None = None,
        dry_run: bool = False,
    ) -> None:
        self._engine = engine
        self._spec = spec
        self._batch_size = batch_size
        self._rate = rate
        self._dry_run = dry_run

    def plan(self, *, from_position: int | None, since: datetime | None) -> tuple[int, int]:
        """(start after, events to read): what ``run`` will walk."""
        with self._engine.connect() as conn:
            after = start_after(conn, from_position=from_position, since=since)
            return after, count_subscribed(conn, self._spec, after)

    def run(
        self,
        after: int,
        total: int,
        progress: Progress | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> BackfillReport:
        """Walk from ``after`` to the barrier; interruptible at any batch (rows committed
        so far stay, and a new run skips them)."""
        report = BackfillReport(self._spec.name, after, dry_run=self._dry_run)
        began = time.perf_counter()
        with self._engine.connect() as conn:
            visible = newest_position(conn)
        walk = _Walk(report, total, began, progress, checkpoint)
        cursor = self._walk(walk, after, visible)
        end = barrier(self._engine)
        cursor = self._walk(walk, cursor, end)
        with self._engine.begin() as conn:
            fill_gaps(conn, self._spec, report)
        report.end_position = max(cursor, end)
        report.seconds = time.perf_counter() - began
        walk.batch_done(report.end_position, report.end_position)
        return report

    def _walk(self, walk: "_Walk", cursor: int, upto: int) -> int:
        while cursor < upto:
            batch_end = self._batch_end(cursor, upto)
            with self._engine.begin() as conn:
                scan_range(conn, self._spec, walk.report, cursor, batch_end)
            cursor = batch_end
            walk.batch_done(cursor, upto)
            self._throttle(walk.report.scanned, walk.began)
        return cursor

    def _batch_end(self, cursor: int, upto: int) -> int:
        """The position ending a batch of about ``batch_size`` subscribed events."""
        with self._engine.connect() as conn:
            nth = conn.execute(
                sa.select(events.c.position)
                .where(
                    events.c.position > cursor,
                    events.c.position <= upto,
                    events.c.event_type.in_(sorted(self._spec.event_types)),
                )
                .order_by(events.c.position)
                .offset(self._batch_size - 1)
                .limit(1)
            ).scalar()
        return upto if nth is None else int(nth)

    def _throttle(self, done: int, began: float) -> None:
        """Sleep until ``done`` events fit within ``rate`` events per second."""
        if not self._rate:
            return
        ahead = done / self._rate - (time.perf_counter() - began)
        if ahead > 0:
            time.sleep(ahead)


@dataclass
class _Walk:
    """One run's report and whom to tell after each batch."""

    report: BackfillReport
    total: int
    began: float
    progress: Progress | None
    checkpoint: Checkpoint | None

    def batch_done(self, position: int, head: int) -> None:
        if self.progress is not None:
            self.progress(self.report.scanned, max(self.total, self.report.scanned))
        if self.checkpoint is not None:
            self.checkpoint(self.report, position, head)
