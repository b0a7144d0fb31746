"""Rebuild a projection without downtime: fold the event store into a shadow table while
live reads and live updates go on, catch up, then swap the tables in one short transaction.

1. The shadow table (``<name>_rebuild``) is created empty; a left-over one from an
   interrupted run is dropped first, so a re-run is always safe and the live table is
   never touched before the swap.
2. Aggregates are taken in batches in the order they were created (their version-1
   event's position): one query loads every event of a batch's streams (the next batch is
   read on a second thread while this one folds), the projection's own fold runs on each
   stream, and the rows are bulk-loaded (PostgreSQL: COPY).
3. Catching up: whatever the live handler applied since the rebuild began (its receipts)
   is folded again into the shadow, in rounds, until a round finds little to do.
4. The swap: one transaction holds off the live handler (PostgreSQL: an ACCESS EXCLUSIVE
   table lock, taken first; SQLite: the write lock), folds what was applied since the last
   round, drops the live table and renames the shadow in its place. Readers see the old
   table or the new one, never an empty or partial one; on PostgreSQL a read that arrives
   during the swap waits for it (milliseconds).

   The lock is the strongest one from the start because the drop needs it: a weaker lock
   upgraded later deadlocks with a live handler that read the table (the user profile
   reads its row first) and then waits to write it.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import sqlalchemy as sa

from app.application.errors import UnprocessableMessage
from app.application.event_handlers.projections import Projection
from app.application.maintenance import RebuildReport
from app.application.read_models import OrderSummary, UserProfile
from app.infrastructure.persistence.database import read_only
from app.infrastructure.persistence.event_store import event_from_row
from app.infrastructure.persistence.read_models import (
    order_summary_row,
    upsert_newer,
    user_profile_row,
)
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import (
    events,
    handler_receipts,
    metadata,
    order_summaries,
    user_profiles,
)

SHADOW_SUFFIX = "_rebuild"
CLOCK_MARGIN = timedelta(seconds=5)
"""Receipts are stamped by other processes' clocks: look back this much further."""
MAX_CATCH_UP_ROUNDS = 5
SETTLED = 100
"""A catch-up round that refolds fewer aggregates than this is close enough to swap."""

_TABLES = {"order_summaries": order_summaries, "user_profiles": user_profiles}
_ROW: dict[str, Callable[[Any], dict[str, Any]]] = {
    "order_summaries": order_summary_row,
    "user_profiles": user_profile_row,
}


def shadow_of(table: sa.Table, *, with_indexes: bool) -> sa.Table:
    """The same columns under ``<name>_rebuild``; constraint and index names follow it."""
    copy = sa.MetaData(naming_convention=metadata.naming_convention)
    shadow = table.to_metadata(copy, name=table.name + SHADOW_SUFFIX)
    shadow.primary_key.name = f"pk_{shadow.name}"
    if not with_indexes:
        shadow.indexes.clear()
    return shadow


class ProjectionRebuild:
    def __init__(self, engine: sa.Engine, projection: Projection, batch_size: int) -> None:
        self._engine = engine
        self._projection = projection
        self._batch_size = batch_size
        self._live = _TABLES[projection.name]
        # PostgreSQL renames indexes in the swap; SQLite cannot, so it builds them there.
        self._postgres = engine.dialect.name == "postgresql"
        self._shadow = shadow_of(self._live, with_indexes=self._postgres)
        self._row = _ROW[projection.name]

    @property
    def name(self) -> str:
        return self._projection.name

    def event_count(self) -> int:
        with read_only(self._engine).connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(events)
                    .where(events.c.aggregate_type == self._projection.aggregate_type)
                ).scalar_one()
            )

    def run(self, progress: Callable[[int], None] = lambda _n: None) -> RebuildReport:
        """Rebuild and swap; on any failure or interruption drop the shadow, keep the live."""
        report = RebuildReport(self._projection.name)
        began, clock = utcnow(), time.perf_counter()
        self._create_shadow()
        try:
            for batch in self._batches():
                report.events += self._fold_into_shadow(batch, report, progress)
            since = began - CLOCK_MARGIN
            while report.catch_up_rounds < MAX_CATCH_UP_ROUNDS:
                round_began = utcnow()
                with self._engine.connect() as conn:
                    changed = self._applied_since(conn, since)
                    self._refold(conn, changed, report)
                    conn.commit()
                since = round_began - CLOCK_MARGIN
                report.catch_up_rounds += 1
                if len(changed) < SETTLED:
                    break
            report.swap_seconds = self._swap(since, report)
        except BaseException:
            self._drop_shadow()
            raise
        report.seconds = time.perf_counter() - clock
        return report

    def _create_shadow(self) -> None:
        with self._engine.begin() as conn:
            self._shadow.drop(conn, checkfirst=True)
            self._shadow.create(conn)

    def _drop_shadow(self) -> None:
        with self._engine.begin() as conn:
            self._shadow.drop(conn, checkfirst=True)

    def _batches(self) -> Iterator[Sequence[Any]]:
        """Every stream of the projection's aggregates, a batch of streams at a time.

        The next batch is read on a second thread while the caller folds this one: the
        database reads while Python folds (psycopg lets go of the GIL while it waits).
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-read") as reader:
            upcoming = reader.submit(self._batch_after, 0)
            while True:
                stored, created_after = upcoming.result()
                if not stored:
                    return
                upcoming = reader.submit(self._batch_after, created_after)
                yield stored

    def _batch_after(self, created_after: int) -> tuple[Sequence[Any], int]:
        """The streams of the next ``batch_size`` aggregates created after that position,
        and the position of the last one's creation: one query, the same text each time
        (an id list would make PostgreSQL's driver parse a thousand parameters per batch)."""
        firsts = (
            sa.select(events.c.aggregate_id, events.c.position.label("created_at"))
            .where(
                events.c.aggregate_type == self._projection.aggregate_type,
                events.c.aggregate_version == 1,
                events.c.position > created_after,
            )
            .order_by(events.c.position)
            .limit(self._batch_size)
            .subquery()
        )
        with read_only(self._engine).connect() as conn:
            stored = conn.execute(
                sa.select(events, firsts.c.created_at)
                .join(firsts, firsts.c.aggregate_id == events.c.aggregate_id)
                .order_by(events.c.aggregate_id, events.c.aggregate_version)
            ).all()
        return stored, max((row.created_at for row in stored), default=created_after)

    @staticmethod
    def _streams(conn: sa.Connection, aggregate_ids: Sequence[str]) -> Sequence[Any]:
        return conn.execute(
            sa.select(events)
            .where(events.c.aggregate_id.in_(aggregate_ids))
            .order_by(events.c.aggregate_id, events.c.aggregate_version)
        ).all()

    def _folded_rows(self, stored: Sequence[Any], report: RebuildReport) -> list[dict[str, Any]]:
        rows = []
        for aggregate_id, stream in groupby(stored, key=lambda row: row.aggregate_id):
            try:
                decoded = [event_from_row(row) for row in stream]
            except UnprocessableMessage:
                report.undecodable.append(aggregate_id)
                continue
            folded: OrderSummary | UserProfile | None = self._projection.fold(decoded)
            if folded is not None:
                rows.append(self._row(folded))
        return rows

    def _fold_into_shadow(
        self, stored: Sequence[Any], report: RebuildReport, progress: Callable[[int], None]
    ) -> int:
        rows = self._folded_rows(stored, report)
        with self._engine.begin() as conn:
            self._insert_into_shadow(conn, rows)
        report.rows += len(rows)
        progress(len(stored))
        return len(stored)

    def _insert_into_shadow(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Bulk-load folded rows: PostgreSQL's COPY, SQLite's executemany.

        Both skip what a multi-row INSERT costs: SQLAlchemy compiling a statement with a
        bound parameter per value, anew for every batch (it was half a rebuild's time).
        """
        if not rows:
            return
        if not self._postgres:
            conn.execute(self._shadow.insert(), rows)
            return
        columns = [column.name for column in self._shadow.columns]
        encoders = [
            column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            for column in self._shadow.columns
        ]
        statement = f"COPY {self._shadow.name} ({', '.join(columns)}) FROM STDIN"
        driver = conn.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(
                    [
                        encode(row[name]) if encode else row[name]
                        for name, encode in zip(columns, encoders, strict=True)
                    ]
                )

    def _applied_since(self, conn: sa.Connection, since: datetime) -> list[str]:
        """Aggregates the live handler changed since ``since`` (by its receipts)."""
        return list(
            conn.execute(
                sa.select(events.c.aggregate_id)
                .distinct()
                .select_from(
                    handler_receipts.join(events, events.c.event_id == handler_receipts.c.event_id)
                )
                .where(
                    handler_receipts.c.handler == self._projection.handler,
                    handler_receipts.c.applied_at >= since,
                )
            ).scalars()
        )

    def _refold(self, conn: sa.Connection, aggregate_ids: list[str], report: RebuildReport) -> None:
        for start in range(0, len(aggregate_ids), self._batch_size):
            chunk = aggregate_ids[start : start + self._batch_size]
            upsert_newer(conn, self._shadow, self._folded_rows(self._streams(conn, chunk), report))

    def _swap(self, since: datetime, report: RebuildReport) -> float:
        live, shadow = self._live.name, self._shadow.name
        began = time.perf_counter()
        with self._engine.begin() as conn:
            if self._postgres:
                conn.exec_driver_sql(f"LOCK TABLE {live} IN ACCESS EXCLUSIVE MODE")
            self._refold(conn, self._applied_since(conn, since), report)
            conn.exec_driver_sql(f"DROP TABLE {live}")
            conn.exec_driver_sql(f"ALTER TABLE {shadow} RENAME TO {live}")
            if self._postgres:
                conn.exec_driver_sql(
                    f"ALTER TABLE {live} RENAME CONSTRAINT pk_{shadow} TO pk_{live}"
                )
                by_columns = {tuple(i.columns.keys()): i.name for i in self._live.indexes}
                for index in self._shadow.indexes:
                    target = by_columns[tuple(index.columns.keys())]
                    conn.exec_driver_sql(f"ALTER INDEX {index.name} RENAME TO {target}")
            else:
                for index in self._live.indexes:
                    index.create(conn)
        return time.perf_counter() - began
