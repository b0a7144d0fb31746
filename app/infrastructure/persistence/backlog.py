"""Cheap figures for scrapes, the ops page and the outbox stats: what waits, and for how long.

The queries read only what is waiting: unfinished outbox rows through the partial index
over rows that are not done, live dead letters through ``ix_dead_letters_status_created``,
and done deliveries through their counters. Their cost follows the backlog, never the
retained history of done deliveries.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.application.dead_letters import DEAD
from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import done_counts
from app.infrastructure.persistence.delivery_states import NOT_DONE_YET, in_status
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import dead_letters, outbox

WAITING_STATUSES = (*DeliveryStatus.unfinished(), *DeliveryStatus.held())
"""What the backlog counts: deliveries still to run, held ones of ordered keys included."""
UNFINISHED_STATUSES = tuple(s.value for s in WAITING_STATUSES)
_WAITING = in_status(WAITING_STATUSES)
_PARKED = in_status([DeliveryStatus.PARKED])


@dataclass(frozen=True)
class HandlerBacklog:
    handler: str
    counts: dict[str, int]
    """Deliveries still to run by status (every such status, zeros included)."""
    oldest_age_seconds: float
    """Age of the oldest unfinished delivery; 0 when there is none."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def handler_backlogs(conn: sa.Connection, handlers: list[str]) -> list[HandlerBacklog]:
    """One entry per name in ``handlers`` (zeros included) and per other handler with rows."""
    now = utcnow()
    counts = {h: dict.fromkeys(UNFINISHED_STATUSES, 0) for h in handlers}
    oldest: dict[str, datetime | None] = {}
    rows = conn.execute(
        sa.select(
            outbox.c.handler, outbox.c.status, sa.func.count(), sa.func.min(outbox.c.created_at)
        )
        .where(_WAITING)
        .group_by(outbox.c.handler, outbox.c.status)
    )
    for handler, status, count, first in rows:
        counts.setdefault(handler, dict.fromkeys(UNFINISHED_STATUSES, 0))[status] = int(count)
        oldest[handler] = _earliest(oldest.get(handler), first)
    return [
        HandlerBacklog(handler, per, _age(now, oldest.get(handler)))
        for handler, per in sorted(counts.items())
    ]


def outbox_stats(conn: sa.Connection) -> dict[str, Any]:
    """Counts per handler and status, and the oldest waiting ages; never scans done rows."""
    now = utcnow()
    statuses = [s.value for s in DeliveryStatus]
    totals = dict.fromkeys(statuses, 0)
    by_handler: dict[str, dict[str, int]] = {}

    def add(handler: str, status: str, count: int) -> None:
        per = by_handler.setdefault(handler, dict.fromkeys(statuses, 0))
        per[status] += count
        totals[status] += count

    for handler, done in done_counts.per_handler(conn).items():
        add(handler, DeliveryStatus.DONE, done)
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
        .where(NOT_DONE_YET)
        .group_by(outbox.c.handler, outbox.c.status)
    ):
        add(handler, status, count)
        if status == DeliveryStatus.PENDING:
            oldest_pending = _earliest(oldest_pending, created)
        elif status in (DeliveryStatus.DISPATCHED, DeliveryStatus.RUNNING, DeliveryStatus.RETRY):
            oldest_dispatched = _earliest(oldest_dispatched, dispatched or created)
    parked = parked_keys(conn)
    return {
        **totals,
        "oldest_pending_age_seconds": round(_age(now, oldest_pending), 3),
        "oldest_dispatched_age_seconds": round(_age(now, oldest_dispatched), 3),
        "oldest_parked_age_seconds": round(
            max((p.oldest_age_seconds for p in parked.values()), default=0.0), 3
        ),
        "parked_keys": sum(p.keys for p in parked.values()),
        "by_handler": by_handler,
        "parked_by_handler": {
            handler: {
                "keys": p.keys,
                "deliveries": p.deliveries,
                "oldest_age_seconds": round(p.oldest_age_seconds, 3),
            }
            for handler, p in sorted(parked.items())
        },
    }


@dataclass(frozen=True)
class ParkedKeys:
    """An ordered handler's keys held behind a dead delivery."""

    keys: int
    deliveries: int
    oldest_age_seconds: float
    """Age of the oldest parked delivery (since it was written)."""


def parked_keys(conn: sa.Connection) -> dict[str, ParkedKeys]:
    """Per handler with parked deliveries: how many keys, deliveries, and the oldest's age."""
    now = utcnow()
    rows = conn.execute(
        sa.select(
            outbox.c.handler,
            sa.func.count(sa.distinct(outbox.c.order_key)),
            sa.func.count(),
            sa.func.min(outbox.c.created_at),
        )
        .where(_PARKED)
        .group_by(outbox.c.handler)
    )
    return {
        handler: ParkedKeys(int(keys), int(count), _age(now, _earliest(None, first)))
        for handler, keys, count, first in rows
    }


def _earliest(known: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return known
    candidate = as_utc(candidate)
    return candidate if known is None or candidate < known else known


def _age(now: datetime, since: datetime | None) -> float:
    """Seconds since ``since``, never negative; 0 when there is none."""
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())


UNROUTABLE = "unroutable"
"""The label of dead letters whose message named no handler we know."""


def live_dead_letters(conn: sa.Connection) -> dict[str, int]:
    """Dead letters not yet re-driven, per handler (``unroutable`` when none was named)."""
    rows = conn.execute(
        sa.select(dead_letters.c.handler, sa.func.count())
        .where(dead_letters.c.status == DEAD)
        .group_by(dead_letters.c.handler)
    )
    return {handler or UNROUTABLE: int(count) for handler, count in rows}


@dataclass(frozen=True)
class ParkedBehind:
    """An ordered delivery's key, and how many of its deliveries are parked."""

    key: str
    parked: int


def parked_behind(conn: sa.Connection, delivery_id: int) -> ParkedBehind | None:
    """The key of this delivery and its parked deliveries (what skipping or re-driving it
    lets go on); None for an unordered delivery, or one that no longer exists."""
    row = conn.execute(
        sa.select(outbox.c.handler, outbox.c.order_key).where(outbox.c.id == delivery_id)
    ).first()
    if row is None or row.order_key is None:
        return None
    parked = conn.execute(
        sa.select(sa.func.count()).where(
            _PARKED, outbox.c.handler == row.handler, outbox.c.order_key == row.order_key
        )
    ).scalar_one()
    return ParkedBehind(row.order_key, int(parked))
