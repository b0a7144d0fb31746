"""Every handler as operators see it: what it subscribes to, whether this process enables
it (or which setting it lacks), and its deliveries by status.

``flask handlers list`` prints it and ``GET /api/handlers`` answers it: one function, so the
two always say the same. The figures come from ``backlog``, which reads only unfinished
rows and the done counters, never the retained history.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from app.application.backfills import BackfillRun
from app.application.event_handlers.subscriptions import Subscription, Subscriptions
from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import backlog
from app.infrastructure.persistence.backfill_runs import latest_by_handler

BACKLOG_STATUSES = (*DeliveryStatus.unfinished(), *DeliveryStatus.held(), DeliveryStatus.DEAD)
"""What a handler's backlog counts: deliveries still to run or held, and dead ones."""

HandlerOverview = dict[str, Any]
"""One handler as JSON: see ``HandlerSchema`` in ``app.api.responses``."""


def overview(conn: sa.Connection, subscriptions: Subscriptions) -> list[HandlerOverview]:
    """Every handler, in the registry's order."""
    return _describe(conn, subscriptions.all)


def overview_of(conn: sa.Connection, subscription: Subscription) -> HandlerOverview:
    (one,) = _describe(conn, [subscription])
    return one


def _describe(conn: sa.Connection, subscriptions: Sequence[Subscription]) -> list[HandlerOverview]:
    names = [s.spec.name for s in subscriptions]
    stats = backlog.outbox_stats(conn)
    ages = {b.handler: b.oldest_age_seconds for b in backlog.handler_backlogs(conn, names)}
    backfills = latest_by_handler(conn, names)
    return [
        _entry(
            s,
            stats["by_handler"].get(s.spec.name, {}),
            ages.get(s.spec.name, 0.0),
            backfills.get(s.spec.name),
        )
        for s in subscriptions
    ]


def _entry(
    s: Subscription, counts: dict[str, int], oldest_age: float, last_backfill: BackfillRun | None
) -> HandlerOverview:
    spec = s.spec
    return {
        "name": spec.name,
        "task": spec.task_name,
        "queue": spec.queue,
        "event_types": sorted(spec.event_types),
        "enabled": s.enabled,
        "disabled_reason": s.disabled_reason,
        "requires": list(spec.requires),
        "ordered": spec.ordered,
        "effect": spec.effect,
        "backlog": {status.value: counts.get(status, 0) for status in BACKLOG_STATUSES},
        "oldest_waiting_age_seconds": round(oldest_age, 3),
        "done": counts.get(DeliveryStatus.DONE, 0),
        "last_backfill": last_backfill,
    }
