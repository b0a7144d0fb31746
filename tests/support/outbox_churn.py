"""Churn an outbox the way a busy deployment does, round after round, and measure its size.

One round stands for one retention interval: a batch of new deliveries is written
``pending``, moved ``dispatched → running → done`` by the statements of the delivery state
map (one row version each, as the relay and a worker leave them), then the real retention
purge deletes the round that left the retention window (``retain_rounds`` rounds ago).
After each round the outbox's size on disk (heap, indexes, TOAST) is read, and its live
and dead row versions and free space are counted with ``pgstattuple`` (a contrib extension
shipped with PostgreSQL, created in the test's own database).
"""

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import delivery_states as states
from app.infrastructure.persistence import retention
from app.infrastructure.persistence.done_counts import DONE_COUNT_SHARDS
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import events, outbox
from tests.support.outbox_seeding import DELIVERIES_PER_EVENT, insert_events
from tests.support.waiting import WaitTimeout, wait_until

INTERVAL = timedelta(hours=1)
"""The simulated time between two rounds (the retention task's default interval)."""


@dataclass(frozen=True)
class RoundFigures:
    round: int
    live_rows: int
    dead_tuples: int
    """Dead row versions still taking room in the heap."""
    free_bytes: int
    """Room in the heap that the next inserts reuse."""
    heap_bytes: int
    total_bytes: int
    """Heap, indexes and TOAST: ``pg_total_relation_size``."""
    deleted_index_bytes: int
    """Index pages a vacuum emptied and deleted, not yet reused (``pgstatindex``)."""

    @property
    def kept_bytes(self) -> int:
        """What retention answers for: the total less the deleted index pages, whose reuse
        waits on the oldest snapshot of the whole server (see ``_wait_for_older_snapshots``)."""
        return self.total_bytes - self.deleted_index_bytes

    def line(self) -> str:
        return (
            f"round {self.round:>2}: {self.live_rows:>7} live rows, {self.dead_tuples:>7} dead"
            f" tuples, heap {self.heap_bytes / 2**20:6.1f} MiB"
            f" ({self.free_bytes / 2**20:5.1f} free),"
            f" total {self.total_bytes / 2**20:6.1f} MiB"
            f" ({self.deleted_index_bytes / 2**20:5.1f} in deleted index pages)"
        )


def churn(
    engine: sa.Engine, *, rounds: int, events_per_round: int, retain_rounds: int
) -> list[RoundFigures]:
    """Run ``rounds`` rounds on the (migrated, empty) database; the figures after each."""
    start = utcnow() - INTERVAL * (rounds + 1)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    figures = []
    previous_purge: int | None = None
    for number in range(rounds):
        finished_at = start + INTERVAL * number
        _deliver_one_round(engine, number * events_per_round, events_per_round, finished_at)
        if previous_purge is not None:
            _wait_for_older_snapshots(engine, previous_purge)
        cutoff = finished_at - INTERVAL * retain_rounds + INTERVAL / 2
        retention.purge_done_deliveries(engine, utcnow() - cutoff, batch_size=5_000)
        previous_purge = _next_xid(engine)
        figures.append(_measure(engine, number + 1))
    return figures


def _next_xid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        next_xid = conn.exec_driver_sql("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
        return int(next_xid.scalar_one())


def _wait_for_older_snapshots(engine: sa.Engine, xid: int, timeout: float = 10.0) -> None:
    """Until no transaction or snapshot anywhere on the server is older than ``xid``.

    A vacuum puts the index pages a purge emptied in the free space map only once no
    snapshot could still read them, and PostgreSQL 15 judges that for B-tree pages by the
    whole server's oldest snapshot (shared relations' horizon), not the database's. So a
    test in another database holding a transaction open across a round keeps this one's
    indexes from reusing their pages: a property of the server, not of the retention under
    test (measured: a transaction held 8 s at a time in another database grew the indexes
    by a round's worth every round, all of it deleted pages). Each purge waits for the
    previous one's deletions to be out of every snapshot's sight, up to ``timeout``; after
    it the round goes on, and ``RoundFigures.deleted_index_bytes`` shows what waits.
    """
    older = (
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND ("
        " (backend_xmin IS NOT NULL AND age(backend_xmin) > age(%(xid)s::text::xid))"
        " OR (backend_xid IS NOT NULL AND age(backend_xid) > age(%(xid)s::text::xid)))"
    )

    def none_older() -> bool:
        with engine.connect() as conn:
            return not conn.exec_driver_sql(older, {"xid": str(xid % 2**32)}).scalar()

    with contextlib.suppress(WaitTimeout):
        wait_until(none_older, timeout=timeout, what="older snapshots to end")


def _deliver_one_round(engine: sa.Engine, first: int, count: int, finished_at: datetime) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))).scalar()
        after = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0))
        ).scalar()
        insert_events(conn, first, count, utcnow(), timedelta())
        conn.exec_driver_sql(
            "INSERT INTO outbox (event_id, handler, status, available_at, created_at)"
            " SELECT event_id, 'handler_' || h, 'pending', occurred_at, occurred_at"
            f" FROM events CROSS JOIN generate_series(1, {DELIVERIES_PER_EVENT}) AS h"
            " WHERE position > %(after)s ORDER BY position, h",
            {"after": after},
        )
    ids = outbox.c.id > last
    moves: list[tuple[DeliveryStatus, dict[str, Any]]] = [
        (DeliveryStatus.DISPATCHED, {"dispatched_at": utcnow(), "dispatch_count": 1}),
        (DeliveryStatus.RUNNING, {"attempts": 1}),
        (DeliveryStatus.DONE, {"done_at": finished_at, "lease_until": None}),
    ]
    for target, values in moves:
        with engine.begin() as conn:
            conn.execute(states.update_to(target).where(ids).values(**values))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO outbox_done_counts (handler, shard, done)"
            f" SELECT handler, mod(id, {DONE_COUNT_SHARDS}), count(*) FROM outbox"
            " WHERE id > %(last)s GROUP BY 1, 2 ON CONFLICT (handler, shard)"
            " DO UPDATE SET done = outbox_done_counts.done + excluded.done",
            {"last": last},
        )


def _measure(engine: sa.Engine, number: int) -> RoundFigures:
    """The outbox's rows and dead row versions counted by ``pgstattuple`` (exact, where the
    statistics' ``n_dead_tup`` lags behind whichever backend reports last), and its size."""
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT tuple_count, dead_tuple_count, free_space,"
            " pg_relation_size('outbox'), pg_total_relation_size('outbox')"
            " FROM pgstattuple('outbox')"
        ).one()
        deleted_pages = conn.exec_driver_sql(
            "SELECT coalesce(sum((pgstatindex(indexrelid::regclass)).deleted_pages), 0)"
            " * current_setting('block_size')::bigint"
            " FROM pg_index WHERE indrelid = 'outbox'::regclass"
        ).scalar_one()
    live, dead, free, heap, total = (int(value) for value in row)
    return RoundFigures(number, live, dead, free, heap, total, int(deleted_pages))
