"""Cheap figures for scrapes and the ops page: unfinished deliveries and live dead letters.

Both queries read only what is waiting: unfinished outbox rows through the partial index
over rows that are not done, and live dead letters through ``ix_dead_letters_status_created``.
Their cost follows the backlog, never the retained history of done deliveries.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence.outbox import UNFINISHED
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import dead_letters, outbox

UNFINISHED_STATUSES = tuple(s.value for s in DeliveryStatus.unfinished())


@dataclass(frozen=True)
class HandlerBacklog:
    handler: str
    counts: dict[str, int]
    """Unfinished deliveries by status (every unfinished status, zeros included)."""
    oldest_age_seconds: float
    """Age of the oldest unfinished delivery; 0 when there is none."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def handler_backlogs(conn: sa.Connection, handlers: list[str]) -> list[HandlerBacklog]:
    """One entry per name in ``handlers`` (zeros included) and per other handler with rows."""
    now = utcnow()
    counts = {h: dict.fromkeys(UNFINISHED_STATUSES, 0) for h in handlers}
    oldest: dict[str, datetime] = {}
    rows = conn.execute(
        sa.select(
            outbox.c.handler, outbox.c.status, sa.func.count(), sa.func.min(outbox.c.created_at)
        )
        .where(UNFINISHED)
        .group_by(outbox.c.handler, outbox.c.status)
    )
    for handler, status, count, first in rows:
        counts.setdefault(handler, dict.fromkeys(UNFINISHED_STATUSES, 0))[status] = int(count)
        first = as_utc(first)
        if handler not in oldest or first < oldest[handler]:
            oldest[handler] = first
    return [
        HandlerBacklog(
            handler,
            per,
            max(0.0, (now - oldest[handler]).total_seconds()) if handler in oldest else 0.0,
        )
        for handler, per in sorted(counts.items())
    ]


UNROUTABLE = "unroutable"
"""The label of dead letters whose message named no handler we know."""


def live_dead_letters(conn: sa.Connection) -> dict[str, int]:
    """Dead letters not yet re-driven, per handler (``unroutable`` when none was named)."""
    rows = conn.execute(
        sa.select(dead_letters.c.handler, sa.func.count())
        .where(dead_letters.c.status == "dead")
        .group_by(dead_letters.c.handler)
    )
    return {handler or UNROUTABLE: int(count) for handler, count in rows}
