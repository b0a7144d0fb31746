"""Cheap figures for scrapes and the ops page: unfinished deliveries and live dead letters.

Every query here filters on a status first (``ix_outbox_status_available``,
``ix_dead_letters_status_created``), so its cost follows the backlog, never the
retained history of done deliveries.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import dead_letters, outbox

ACTIVE = ("pending", "dispatched")


@dataclass(frozen=True)
class HandlerBacklog:
    handler: str
    pending: int
    dispatched: int
    oldest_age_seconds: float
    """Age of the oldest unfinished delivery; 0 when there is none."""


def handler_backlogs(conn: sa.Connection, handlers: list[str]) -> list[HandlerBacklog]:
    """One entry per name in ``handlers`` (zeros included) and per other handler with rows."""
    now = utcnow()
    counts: dict[str, dict[str, int]] = {h: dict.fromkeys(ACTIVE, 0) for h in handlers}
    oldest: dict[str, datetime] = {}
    rows = conn.execute(
        sa.select(
            outbox.c.handler, outbox.c.status, sa.func.count(), sa.func.min(outbox.c.created_at)
        )
        .where(outbox.c.status.in_(ACTIVE))
        .group_by(outbox.c.handler, outbox.c.status)
    )
    for handler, status, count, first in rows:
        counts.setdefault(handler, dict.fromkeys(ACTIVE, 0))[status] = int(count)
        first = as_utc(first)
        if handler not in oldest or first < oldest[handler]:
            oldest[handler] = first
    return [
        HandlerBacklog(
            handler,
            per["pending"],
            per["dispatched"],
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
