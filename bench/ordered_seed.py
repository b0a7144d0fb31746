"""The ordering phase's backlog: events of many orders and their ``forward_to_webhooks``
deliveries, written straight into the product's tables in one transaction.

Only that handler's deliveries are written, so no other handler shares the worker. Rows are
written as the product's own ``outbox.append`` writes them: ``pending``, and for an ordered
drain with the ``order_key``/``order_seq`` that ``ordering.place`` gives the handler's
deliveries; for an unordered drain both are null, and nothing else differs. Events go in
round by round (every order's first event, then every order's second, …), as a backlog of
orders moving through their lives side by side would, so a relay batch holds many keys.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.application.ports import DeliveryStatus
from app.infrastructure.persistence import delivery_states, ordering
from app.infrastructure.persistence.tables import events, outbox

HANDLER = "forward_to_webhooks"
AGGREGATE_TYPE = "order"
LIFE = (
    ("order.created", 2),
    ("order.payment_processed", 1),
    ("order.shipped", 1),
    ("order.cancelled", 1),
)
"""(event type, schema version) cycled through a key's events: the handler forwards any
event as it is, so which ones does not change its cost."""


@dataclass(frozen=True)
class Plan:
    """The events of one drain, in the order they are stored, and the keys they belong to."""

    events: list[dict[str, Any]]
    keys: list[str]
    """Aggregate ids, one per key."""

    def heads(self, keys: list[str]) -> list[str]:
        """The event ids of these keys' first events."""
        wanted = set(keys)
        return [
            e["event_id"]
            for e in self.events
            if e["aggregate_version"] == 1 and e["aggregate_id"] in wanted
        ]


@dataclass(frozen=True)
class Seeded:
    first_id: int
    last_id: int
    released_at: float
    """Wall-clock time just before the commit that makes the deliveries visible (and wakes
    the following relay)."""


def plan(keys: int, per_key: int) -> Plan:
    ids = [str(uuid.uuid4()) for _ in range(keys)]
    user = str(uuid.uuid4())
    now = datetime.now(UTC)
    rows = [
        _event(aggregate_id, version, user, now)
        for version in range(1, per_key + 1)
        for aggregate_id in ids
    ]
    return Plan(rows, ids)


def insert(engine: sa.Engine, drain: Plan, *, ordered: bool) -> Seeded:
    """Write the plan's events and one pending delivery of each; commit; say when."""
    with engine.connect() as conn:
        stored = conn.execute(
            events.insert().returning(
                events.c.position,
                events.c.event_id,
                events.c.event_type,
                events.c.aggregate_type,
                events.c.aggregate_id,
                sort_by_parameter_order=True,
            ),
            drain.events,
        ).all()
        now = datetime.now(UTC)
        created = delivery_states.created(DeliveryStatus.PENDING)
        rows = [
            {
                "event_id": e.event_id,
                "handler": HANDLER,
                "available_at": now,
                "created_at": now,
                **created,
                **(ordering.place(HANDLER, e, e.position) if ordered else ordering.NO_PLACE),
            }
            for e in stored
        ]
        ids = conn.execute(
            outbox.insert().returning(outbox.c.id, sort_by_parameter_order=True), rows
        ).scalars()
        id_list = list(ids)
        released_at = time.time()
        conn.commit()
    return Seeded(min(id_list), max(id_list), released_at)


def _event(aggregate_id: str, version: int, user: str, now: datetime) -> dict[str, Any]:
    event_type, schema_version = LIFE[(version - 1) % len(LIFE)]
    payloads: dict[str, dict[str, Any]] = {
        "order.created": {
            "user_id": user,
            "items": [{"sku": "bench", "quantity": 2, "unit_price": "5.00"}],
            "total": "10.00",
            "currency": "EUR",
        },
        "order.payment_processed": {"user_id": user, "amount": "10.00"},
        "order.shipped": {"user_id": user},
        "order.cancelled": {"user_id": user, "reason": "bench", "was_paid": True},
    }
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": schema_version,
        "aggregate_type": AGGREGATE_TYPE,
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "payload": payloads[event_type],
        "correlation_id": "bench-ordering",
        "causation_id": "bench-ordering",
        "occurred_at": now,
    }
