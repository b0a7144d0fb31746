"""Backfill runs: the one owner of ``backfill_runs`` and of which state changes are legal.

A run is ``queued`` when asked for, ``running`` once a task claims it, then ``done`` or
``failed`` (with its error). At most one run per handler is queued or running: the table's
partial unique index refuses a second, whichever process asks (``AlreadyRunning``).

A task that claims a run becomes its *owner*. A message redelivered after its worker died
claims the run again and takes it over; the previous owner, if it still runs, finds at its
next batch that the run is no longer its own (``RunTakenOver``) and stops. Backfilling is
idempotent, so a run taken over simply walks again, adding only what is still missing.

A run left active by a task that can no longer be running (its progress is older than the
task's hard time limit, ``stale_after``) is failed as abandoned when the next run for its
handler is asked for, so a lost message never blocks a handler's backfills for good.
"""

import contextlib
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.application.backfills import AlreadyRunning, BackfillRequest, BackfillRun, BackfillState
from app.infrastructure.persistence.backfill import BackfillReport
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import backfill_runs

QUEUED, RUNNING, DONE, FAILED = (state.value for state in BackfillState)
ACTIVE = tuple(state.value for state in BackfillState.active())
ERROR_LIMIT = 2000
"""Characters of a failure's message kept in the row."""


class RunTakenOver(Exception):
    """The run was claimed by another task, or failed meanwhile: stop working on it."""


class BackfillRuns:
    def __init__(self, engine: sa.Engine, reader: sa.Engine, *, stale_after: timedelta) -> None:
        self._engine = engine
        self._reader = reader
        self._stale_after = stale_after

    def queue(self, handler: str, request: BackfillRequest) -> BackfillRun:
        """Record a new ``queued`` run; raises ``AlreadyRunning`` if the handler has one."""
        try:
            run_id = self._insert(handler, request)
        except sa.exc.IntegrityError:
            active = self.active(handler)
            if active is not None:
                raise AlreadyRunning(active) from None
            run_id = self._insert(handler, request)  # the active one finished meanwhile
        run = self.get(run_id)
        assert run is not None
        return run

    def _insert(self, handler: str, request: BackfillRequest) -> int:
        now = utcnow()
        with self._engine.begin() as conn:
            self._fail_abandoned(conn, handler, now)
            return int(
                conn.execute(
                    backfill_runs.insert()
                    .values(
                        handler=handler,
                        state=QUEUED,
                        requested_by=request.requested_by[:100],
                        from_position=request.from_position,
                        since=request.since,
                        batch_size=request.batch_size,
                        rate=request.rate,
                        queued_at=now,
                        updated_at=now,
                    )
                    .returning(backfill_runs.c.id)
                ).scalar_one()
            )

    def _fail_abandoned(self, conn: sa.Connection, handler: str, now: datetime) -> None:
        conn.execute(
            backfill_runs.update()
            .where(
                backfill_runs.c.handler == handler,
                backfill_runs.c.state.in_(ACTIVE),
                backfill_runs.c.updated_at < now - self._stale_after,
            )
            .values(
                state=FAILED,
                error="abandoned: no progress for longer than its task may run",
                finished_at=now,
                updated_at=now,
            )
        )

    def claim(self, run_id: int) -> tuple[BackfillRun, str] | None:
        """Make the calling task the run's owner; None if the run is finished or unknown."""
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        now = utcnow()
        with self._engine.begin() as conn:
            claimed = conn.execute(
                backfill_runs.update()
                .where(backfill_runs.c.id == run_id, backfill_runs.c.state.in_(ACTIVE))
                .values(
                    state=RUNNING,
                    owner=owner,
                    started_at=sa.func.coalesce(backfill_runs.c.started_at, now),
                    updated_at=now,
                )
            ).rowcount
        run = self.get(run_id) if claimed else None
        return None if run is None else (run, owner)

    def progress(
        self, run_id: int, owner: str, report: BackfillReport, *, position: int, head: int
    ) -> None:
        """The walk's figures so far; raises ``RunTakenOver`` if ``owner`` lost the run."""
        self._update(run_id, owner, **_figures(report, position, head))

    def plan(self, run_id: int, owner: str, *, start_position: int, total: int) -> None:
        self._update(run_id, owner, start_position=start_position, events_total=total)

    def finish(self, run_id: int, owner: str, report: BackfillReport) -> None:
        now = utcnow()
        figures = _figures(report, report.end_position, report.end_position)
        self._update(run_id, owner, state=DONE, finished_at=now, **figures)

    def fail(self, run_id: int, owner: str | None, error: str) -> None:
        """Fail the run (if ``owner`` still holds it; None: whoever does)."""
        with contextlib.suppress(RunTakenOver):
            self._update(
                run_id, owner, state=FAILED, error=error[:ERROR_LIMIT], finished_at=utcnow()
            )

    def _update(self, run_id: int, owner: str | None, **values: Any) -> None:
        where = [backfill_runs.c.id == run_id, backfill_runs.c.state.in_(ACTIVE)]
        if owner is not None:
            where.append(backfill_runs.c.owner == owner)
        with self._engine.begin() as conn:
            changed = conn.execute(
                backfill_runs.update()
                .where(*where)
                .values(updated_at=values.get("finished_at") or utcnow(), **values)
            ).rowcount
        if not changed:
            raise RunTakenOver(f"backfill {run_id} is no longer held by {owner}")

    def get(self, run_id: int) -> BackfillRun | None:
        with self._reader.connect() as conn:
            row = conn.execute(sa.select(backfill_runs).where(backfill_runs.c.id == run_id)).first()
        return None if row is None else as_json(row)

    def active(self, handler: str) -> BackfillRun | None:
        with self._reader.connect() as conn:
            row = conn.execute(
                sa.select(backfill_runs).where(
                    backfill_runs.c.handler == handler, backfill_runs.c.state.in_(ACTIVE)
                )
            ).first()
        return None if row is None else as_json(row)


def latest_by_handler(conn: sa.Connection, handlers: list[str]) -> dict[str, BackfillRun]:
    """Each handler's newest run (handlers without one are left out)."""
    newest = (
        sa.select(sa.func.max(backfill_runs.c.id))
        .where(backfill_runs.c.handler.in_(handlers))
        .group_by(backfill_runs.c.handler)
    )
    rows = conn.execute(sa.select(backfill_runs).where(backfill_runs.c.id.in_(newest))).all()
    return {row.handler: as_json(row) for row in rows}


def _figures(report: BackfillReport, position: int, head: int) -> dict[str, int]:
    return {
        "start_position": report.start_position,
        "position": position,
        "head_position": head,
        "events_scanned": report.scanned,
        "deliveries_added": report.added,
        "gaps_filled": report.gaps_filled,
    }


def as_json(row: sa.Row[Any]) -> BackfillRun:
    """A run as the API answers it: times in ISO 8601 (UTC), no owner."""
    run = dict(row._mapping)
    run.pop("owner", None)
    for name in ("since", "queued_at", "started_at", "updated_at", "finished_at"):
        if run[name] is not None:
            run[name] = as_utc(run[name]).isoformat()
    return run
