"""The append-only event store: events in, events (upcast to current versions) out."""

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from app.application.messages import EventMessage, MessageContext
from app.domain.errors import ConcurrencyConflict
from app.domain.events import DomainEvent
from app.infrastructure.envelope import Envelope, decode_event
from app.infrastructure.persistence.sql import as_utc
from app.infrastructure.persistence.tables import events


def envelope_from_row(row: Any) -> Envelope:
    """An ``events`` row as its envelope: the columns are the envelope's fields."""
    return Envelope.from_columns({**row._mapping, "occurred_at": as_utc(row.occurred_at)})


def event_from_row(row: Any) -> DomainEvent:
    """An ``events`` row as its current-version domain event, without the envelope's
    round trip through strings (folds read streams; they need no message context)."""
    return decode_event(row, as_utc(row.occurred_at))


class SqlEventStreams:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.last_position: int | None = None
        """The global position of the last event ``append`` wrote."""
        self.positions: list[int] = []
        """The positions of the events the last ``append`` wrote, in their order."""

    def load_stream(self, aggregate_id: str) -> list[DomainEvent]:
        rows = self._conn.execute(
            sa.select(events)
            .where(events.c.aggregate_id == aggregate_id)
            .order_by(events.c.aggregate_version)
        )
        return [event_from_row(row) for row in rows]

    def aggregate_ids(self, aggregate_type: str) -> Iterable[str]:
        return (
            self._conn.execute(
                sa.select(events.c.aggregate_id)
                .where(events.c.aggregate_type == aggregate_type)
                .group_by(events.c.aggregate_id)
                .order_by(sa.func.min(events.c.position))
            )
            .scalars()
            .all()
        )

    def append(self, new_events: Sequence[DomainEvent], context: MessageContext) -> list[Envelope]:
        """Insert the events; returns their envelopes, as the outbox will publish them.

        A second writer of the same aggregate version fails the unique constraint: the
        whole transaction is then lost, and the command reports a concurrency conflict.
        """
        envelopes = [Envelope.of(EventMessage(event, context)) for event in new_events]
        if not envelopes:
            return []
        rows = [envelope.to_columns() for envelope in envelopes]
        try:
            self.positions = list(
                self._conn.execute(
                    events.insert().returning(events.c.position, sort_by_parameter_order=True),
                    rows,
                ).scalars()
            )
            self.last_position = max(self.positions)
        except sa.exc.IntegrityError:
            raise ConcurrencyConflict("the aggregate was changed by another request") from None
        return envelopes
