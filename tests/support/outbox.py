"""Reading the outbox from a test: status counts, stuck rows, and waiting until it drains."""

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app.application.ports import DeliveryStatus
from app.container import container_of
from app.infrastructure.persistence import backlog
from app.infrastructure.persistence.tables import outbox
from tests.support.waiting import wait_until

ACTIVE = (*DeliveryStatus.unfinished(), DeliveryStatus.WAITING)
"""Deliveries that will still run by themselves (parked ones wait for an operator)."""


def outbox_stats(engine: sa.Engine) -> dict[str, Any]:
    """What ``GET /api/outbox/stats`` answers."""
    with engine.connect() as conn:
        return backlog.outbox_stats(conn)


def status_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))
        return {status: int(count) for status, count in rows}


def in_broker(engine: sa.Engine) -> int:
    """Deliveries published and not finished (``dispatched``, ``running``, ``retry``).

    Each has a message the broker holds, ready or prefetched and unacknowledged: the
    backlog a broker crash hits. A queue's depth is a poor measure of it, since a worker
    may have prefetched every ready message into its own buffer.
    """
    published = (DeliveryStatus.DISPATCHED, DeliveryStatus.RUNNING, DeliveryStatus.RETRY)
    counts = status_counts(engine)
    return sum(counts.get(status, 0) for status in published)


def unfinished_deliveries(engine: sa.Engine, limit: int = 15) -> list[dict[str, Any]]:
    """Deliveries not yet ``done``/``dead``, oldest first: what a timeout message shows."""
    columns = [
        outbox.c.id,
        outbox.c.handler,
        outbox.c.status,
        outbox.c.attempts,
        outbox.c.dispatch_count,
        outbox.c.lease_until,
        outbox.c.last_error,
    ]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(*columns)
            .where(outbox.c.status.in_(ACTIVE))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [dict(row._mapping) for row in rows]


def wait_for_outbox_drained(
    app: Flask,
    *,
    timeout: float = 60.0,
    health_checks: Iterable[Callable[[], None]] = (),
) -> dict[str, Any]:
    """Wait until every delivery is ``done`` or ``dead``; return the final outbox stats.

    ``health_checks`` run on every poll and should raise when waiting is pointless
    (a worker process died, say), so a broken run fails at once with a reason.
    """
    container = container_of(app)
    checks = list(health_checks)

    def drained() -> dict[str, Any] | None:
        for check in checks:
            check()
        stats = outbox_stats(container.engine)
        return stats if all(stats[status] == 0 for status in ACTIVE) else None

    def describe() -> str:
        stats = outbox_stats(container.engine)
        stuck = "\n".join(f"  {row}" for row in unfinished_deliveries(container.engine))
        counts = " ".join(f"{status}={stats[status]}" for status in DeliveryStatus)
        return f"outbox: {counts}; first unfinished deliveries:\n{stuck}"

    return wait_until(drained, timeout=timeout, what="the outbox to drain", describe=describe)
