"""The append-only event store and the outbox rows written with each event."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from app.application.messages import EventMessage, MessageContext
from app.domain.errors import ConcurrencyConflict
from app.domain.events import DomainEvent
from app.infrastructure.messaging.envelope import Envelope
from app.infrastructure.persistence.sql import as_utc, utcnow
from app.infrastructure.persistence.tables import events, outbox


def envelope_from_row(row: Any) -> Envelope:
    return Envelope(
        event_id=row.event_id,
        event_type=row.event_type,
        schema_version=row.schema_version,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        aggregate_version=row.aggregate_version,
        occurred_at=as_utc(row.occurred_at).isoformat(),
        correlation_id=row.correlation_id,
        causation_id=row.causation_id,
        payload=row.payload,
    )


class SqlEventStreams:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.last_position: int | None = None
        """The global position of the last event ``append`` wrote."""

    def load_stream(self, aggregate_id: str) -> list[DomainEvent]:
        rows = self._conn.execute(
            sa.select(events)
            .where(events.c.aggregate_id == aggregate_id)
            .order_by(events.c.aggregate_version)
        )
        return [envelope_from_row(row).to_message().event for row in rows]

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

    def append(
        self,
        new_events: Sequence[DomainEvent],
        context: MessageContext,
        subscribers: Callable[[str], list[str]],
    ) -> list[int]:
        """Insert events and one pending delivery per subscriber; returns the delivery ids."""
        if not new_events:
            return []
        now = utcnow()
        try:
            with self._conn.begin_nested():
                positions = self._conn.execute(
                    events.insert().returning(events.c.position),
                    [
                        self._event_row(
                            EventMessage(e, context.correlation_id, context.causation_id)
                        )
                        for e in new_events
                    ],
                ).scalars()
                self.last_position = max(positions)
        except sa.exc.IntegrityError:
            raise ConcurrencyConflict("the aggregate was changed by another request") from None
        deliveries = [
            {
                "event_id": e.event_id,
                "handler": handler,
                "status": "pending",
                "available_at": now,
                "created_at": now,
            }
            for e in new_events
            for handler in subscribers(e.event_type)
        ]
        if not deliveries:
            return []
        return list(
            self._conn.execute(outbox.insert().returning(outbox.c.id), deliveries).scalars()
        )

    @staticmethod
    def _event_row(message: EventMessage) -> dict[str, Any]:
        envelope = Envelope.of(message)
        row = envelope.to_dict()
        row["occurred_at"] = message.event.occurred_at
        return row
