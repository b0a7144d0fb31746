"""One request's whole chain: the events sharing a correlation id and their deliveries.

The ops page shows it as read here, the events API (``event_log``) as JSON. A delivery
whose outbox row is gone is listed with status ``purged`` (and no delivery id) instead of
being left out: one retention deleted after it was applied (its handler receipt remains;
attempts unknown), or a dead one an operator purged with its dead letter (its attempts and
last error are kept in ``purged_dead_deliveries``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.application.operations import MAX_TRACED_EVENTS
from app.infrastructure.persistence.sql import as_utc
from app.infrastructure.persistence.tables import (
    events,
    handler_receipts,
    outbox,
    purged_dead_deliveries,
)

PURGED = "purged"


@dataclass(frozen=True)
class TracedDelivery:
    delivery_id: int | None
    """None once the outbox row is gone (status ``purged``)."""
    handler: str
    status: str
    attempts: int | None
    """None when retention purged the row: how many it took is no longer known."""
    last_error: str | None


@dataclass(frozen=True)
class TracedEvent:
    position: int
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    causation_id: str
    deliveries: list[TracedDelivery]


def trace(
    conn: sa.Connection, correlation_id: str, *, after: int = 0
) -> tuple[list[TracedEvent], int | None]:
    """One page of the chain: events in store order, each with its deliveries in creation
    order ([] if none), and the position to continue after (None: no more)."""
    rows, next_after = chain(conn, correlation_id, after=after)
    deliveries = deliveries_of(conn, [row.event_id for row in rows])
    page = [
        TracedEvent(
            row.position,
            row.event_id,
            row.event_type,
            row.aggregate_type,
            row.aggregate_id,
            row.aggregate_version,
            as_utc(row.occurred_at),
            row.causation_id,
            deliveries[row.event_id],
        )
        for row in rows
    ]
    return page, next_after


def chain(
    conn: sa.Connection, correlation_id: str, *, after: int = 0, limit: int = MAX_TRACED_EVENTS
) -> tuple[Sequence[sa.Row[Any]], int | None]:
    """The stored events sharing ``correlation_id`` past position ``after``, in store order
    (at most ``limit``, which ``deliveries_of`` needs: it binds one parameter per event),
    and the position to continue after (None: no more)."""
    rows = conn.execute(
        sa.select(events)
        .where(events.c.correlation_id == correlation_id, events.c.position > after)
        .order_by(events.c.position)
        .limit(limit + 1)
    ).all()
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].position
    return rows, None


def exists(conn: sa.Connection, correlation_id: str) -> bool:
    """Whether any stored event carries ``correlation_id``."""
    found = conn.execute(
        sa.select(events.c.position).where(events.c.correlation_id == correlation_id).limit(1)
    ).first()
    return found is not None


def deliveries_of(conn: sa.Connection, event_ids: list[str]) -> dict[str, list[TracedDelivery]]:
    """Each event's deliveries (an entry for every id): its outbox rows in creation order,
    then the purged ones."""
    deliveries: dict[str, list[TracedDelivery]] = {event_id: [] for event_id in event_ids}
    if not event_ids:
        return deliveries
    for d in conn.execute(
        sa.select(outbox).where(outbox.c.event_id.in_(event_ids)).order_by(outbox.c.id)
    ):
        deliveries[d.event_id].append(_traced(d))
    for event_id, handler in conn.execute(
        sa.select(handler_receipts.c.event_id, handler_receipts.c.handler)
        .where(handler_receipts.c.event_id.in_(event_ids))
        .order_by(handler_receipts.c.applied_at)
    ):
        if all(d.handler != handler for d in deliveries[event_id]):
            deliveries[event_id].append(TracedDelivery(None, handler, PURGED, None, None))
    for gone in conn.execute(
        sa.select(purged_dead_deliveries)
        .where(purged_dead_deliveries.c.event_id.in_(event_ids))
        .order_by(purged_dead_deliveries.c.purged_at)
    ):
        why = (
            f"dead, then purged with its dead letter at {as_utc(gone.purged_at).isoformat()}: "
            f"{gone.last_error or 'no error kept'}"
        )
        deliveries[gone.event_id].append(
            TracedDelivery(None, gone.handler, PURGED, gone.attempts, why)
        )
    return deliveries


def delivery(conn: sa.Connection, delivery_id: int) -> TracedDelivery | None:
    """One delivery's current state (what a re-driven dead letter became)."""
    d = conn.execute(sa.select(outbox).where(outbox.c.id == delivery_id)).first()
    return None if d is None else _traced(d)


def _traced(d: Any) -> TracedDelivery:
    return TracedDelivery(d.id, d.handler, d.status, d.attempts, d.last_error)
