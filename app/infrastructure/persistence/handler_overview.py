"""The figures of the handler overview (``app.application.handler_overview``), read from
``backlog``, which reads only unfinished rows and the done counters, never the retained
history."""

from collections.abc import Sequence

import sqlalchemy as sa

from app.application.event_handlers.subscriptions import Subscription, Subscriptions
from app.application.handler_overview import HandlerOverview, describe
from app.infrastructure.persistence import backlog
from app.infrastructure.persistence.backfill_runs import latest_by_handler


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
        describe(
            s,
            stats["by_handler"].get(s.spec.name, {}),
            ages.get(s.spec.name, 0.0),
            backfills.get(s.spec.name),
        )
        for s in subscriptions
    ]
