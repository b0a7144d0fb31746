"""One sample of every event class, for codec and envelope tests.

The hand-written samples carry realistic values (money, several line items, non-ASCII);
every event class without one gets a sample built from its payload schema, so a new event
is covered here without an edit.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.domain.events import (
    EVENT_CLASSES,
    DomainEvent,
    LineItem,
    LoyaltyPointsAwarded,
    LoyaltyPointsRevoked,
    OrderCancelled,
    OrderCreated,
    OrderShipped,
    PaymentProcessed,
    UserRegistered,
)
from app.domain.events.schema import payload_schema

USER = "6f1c2f7e-8a34-4f55-9d1e-2b9c3f0a1d11"
ORDER = "0b5e8f0c-43a6-4c9f-8d0e-7a6b5c4d3e22"
AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ITEMS = (LineItem("book", 2, Decimal("12.50")), LineItem("pen", 1, Decimal("0.99")))

WRITTEN: tuple[DomainEvent, ...] = (
    UserRegistered(
        aggregate_id=USER, aggregate_version=1, occurred_at=AT, email="Ada@x.io", name="Ada é"
    ),
    LoyaltyPointsAwarded(
        aggregate_id=USER,
        aggregate_version=2,
        occurred_at=AT,
        order_id=ORDER,
        points=25,
        balance=25,
    ),
    LoyaltyPointsRevoked(
        aggregate_id=USER, aggregate_version=3, occurred_at=AT, order_id=ORDER, points=25, balance=0
    ),
    OrderCreated(
        aggregate_id=ORDER,
        aggregate_version=1,
        occurred_at=AT,
        user_id=USER,
        items=ITEMS,
        total=Decimal("25.99"),
        currency="EUR",
    ),
    PaymentProcessed(
        aggregate_id=ORDER,
        aggregate_version=2,
        occurred_at=AT,
        user_id=USER,
        amount=Decimal("25.99"),
    ),
    OrderShipped(aggregate_id=ORDER, aggregate_version=3, occurred_at=AT, user_id=USER),
    OrderCancelled(
        aggregate_id=ORDER,
        aggregate_version=3,
        occurred_at=AT,
        user_id=USER,
        reason="changed my mind",
        was_paid=True,
    ),
)

_SCALARS = {"string": "s", "integer": 1, "boolean": True, "decimal": "1.00"}


def sample(schema: Any) -> Any:
    """A payload value of the given schema, valid for the strict decoder."""
    if isinstance(schema, list):
        return [sample(schema[0])]
    if isinstance(schema, dict):
        return {name: sample(kind) for name, kind in schema.items()}
    return _SCALARS[schema]


def _built(cls: type[DomainEvent]) -> DomainEvent:
    return cls.from_payload(
        sample(payload_schema(cls)),
        aggregate_id=USER,
        aggregate_version=1,
        event_id="00000000-0000-4000-8000-000000000000",
        occurred_at=AT,
    )


SAMPLE_EVENTS: tuple[DomainEvent, ...] = WRITTEN + tuple(
    _built(cls) for cls in EVENT_CLASSES.values() if cls not in {type(e) for e in WRITTEN}
)
