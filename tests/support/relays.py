"""Relay testing aids: seed deliveries in bulk, and a publisher that records instead of sending."""

import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from app.application.event_handlers.registry import subscribers
from app.application.messages import EventMessage, MessageContext
from app.domain.events import UserRegistered
from app.infrastructure.envelope import Envelope
from app.infrastructure.persistence.outbox import ClaimedDelivery
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import events, outbox


def seed_pending_deliveries(engine: sa.Engine, event_count: int) -> list[int]:
    """Store ``event_count`` UserRegistered events with a pending delivery per subscriber.

    Returns the delivery ids. Nothing else (no user rows) is written: enough for the
    relay, which reads only the outbox and the event store.
    """
    now = utcnow()
    event_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for n in range(event_count):
        event = UserRegistered(
            aggregate_id=str(uuid.uuid4()),
            aggregate_version=1,
            email=f"seed{n}@example.com",
            name=f"Seed {n}",
        )
        message = EventMessage(event, MessageContext.root(str(uuid.uuid4())))
        event_rows.append(Envelope.of(message).to_columns())
        delivery_rows.extend(
            {
                "event_id": event.event_id,
                "handler": handler,
                "status": "pending",
                "available_at": now,
                "created_at": now,
            }
            for handler in subscribers(event.event_type)
        )
    with engine.begin() as conn:
        conn.execute(events.insert(), event_rows)
        conn.execute(outbox.insert(), delivery_rows)
        return list(
            conn.execute(
                sa.select(outbox.c.id).where(outbox.c.status == "pending").order_by(outbox.c.id)
            ).scalars()
        )


class PublishLog:
    """Thread-safe record of (relay, delivery id) in publish order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[tuple[str, int]] = []

    def add(self, relay: str, delivery_id: int) -> None:
        with self._lock:
            self.entries.append((relay, delivery_id))

    @property
    def ids(self) -> list[int]:
        with self._lock:
            return [delivery_id for _relay, delivery_id in self.entries]

    def duplicates(self) -> dict[int, int]:
        return {i: n for i, n in Counter(self.ids).items() if n > 1}

    def per_relay(self) -> Counter[str]:
        with self._lock:
            return Counter(relay for relay, _id in self.entries)


class RecordingPublisher:
    """Stands in for ``CeleryPublisher`` in an ``OutboxRelay``: publishing only records.

    ``delay`` (seconds per message) stands for the broker round trip, widening the
    window in which relays overlap.
    """

    def __init__(self, log: PublishLog, relay: str, *, delay: float = 0.0) -> None:
        self._log = log
        self._relay = relay
        self._delay = delay

    def publish(self, deliveries: Sequence[ClaimedDelivery], *, fail_fast: bool) -> list[int]:
        for delivery in deliveries:
            if self._delay:
                time.sleep(self._delay)
            self._log.add(self._relay, delivery.delivery_id)
        return [d.delivery_id for d in deliveries]
