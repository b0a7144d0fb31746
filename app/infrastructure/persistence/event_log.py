"""The event store as operators read it: filtered pages, one event, one request's trace.

Payloads are upcast to the current schema version, as handlers and rebuilds see them;
each event comes with the state of its deliveries, purged ones included (see ``traces``).
"""

from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import sqlalchemy as sa

from app.application.errors import UnprocessableMessage
from app.application.operations import MAX_TRACED_EVENTS, EventFilter
from app.infrastructure.envelope import upcast_to_current
from app.infrastructure.persistence import traces
from app.infrastructure.persistence.sql import as_utc
from app.infrastructure.persistence.tables import events


def _condition(where: EventFilter) -> sa.ColumnElement[bool]:
    clauses = [events.c.position > where.after]
    for column, value in (
        (events.c.aggregate_type, where.aggregate_type),
        (events.c.aggregate_id, where.aggregate_id),
        (events.c.correlation_id, where.correlation_id),
        (events.c.event_type, where.event_type),
    ):
        if value is not None:
            clauses.append(column == value)
    return sa.and_(*clauses)


def event_view(row: Any) -> dict[str, Any]:
    """One stored event, its payload read at the current schema version when it can be."""
    version, payload = row.schema_version, row.payload
    # An unknown type or version, or a payload no upcaster reads, is shown as stored.
    with suppress(UnprocessableMessage, LookupError, TypeError, ValueError):
        version, payload = upcast_to_current(row.event_type, row.schema_version, row.payload)
    return {
        "position": row.position,
        "event_id": row.event_id,
        "type": row.event_type,
        "version": version,
        "aggregate_type": row.aggregate_type,
        "aggregate_id": row.aggregate_id,
        "aggregate_version": row.aggregate_version,
        "occurred_at": as_utc(row.occurred_at).isoformat(),
        "correlation_id": row.correlation_id,
        "causation_id": row.causation_id,
        "payload": payload,
    }


class EventLog:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def search(self, where: EventFilter, *, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """A page in position order, and the position to continue after (None: no more)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(events)
                .where(_condition(where))
                .order_by(events.c.position)
                .limit(limit + 1)
            ).all()
        items = [event_view(row) for row in rows[:limit]]
        return items, (items[-1]["position"] if len(rows) > limit else None)

    def get(self, event_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(events).where(events.c.event_id == event_id)).first()
            return None if row is None else self._with_deliveries(conn, [row])[0]

    def trace(
        self, correlation_id: str, *, after: int = 0, limit: int = MAX_TRACED_EVENTS
    ) -> tuple[list[dict[str, Any]], int | None] | None:
        """A page of one request's causal chain (handler-caused events included) past
        ``after``, and the position to continue after; None when no event has the id."""
        with self._engine.connect() as conn:
            rows, next_after = traces.chain(conn, correlation_id, after=after, limit=limit)
            if not rows and (after == 0 or not traces.exists(conn, correlation_id)):
                return None
            return self._with_deliveries(conn, rows), next_after

    def _with_deliveries(self, conn: sa.Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        found = traces.deliveries_of(conn, [row.event_id for row in rows])
        return [
            {
                **event_view(row),
                "deliveries": [
                    {
                        "handler": d.handler,
                        "status": d.status,
                        "attempts": d.attempts,
                        "last_error": d.last_error,
                    }
                    for d in found[row.event_id]
                ],
            }
            for row in rows
        ]
