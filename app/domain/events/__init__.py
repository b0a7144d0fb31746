"""Every domain event, and the explicit map from wire name to class.

A new event is a class here and a line in ``EVENT_CLASSES``: one file. ``event_type`` and
``schema_version`` are the stable wire names (see ``base.py``). Money fields are Decimal,
sent as decimal strings.
"""

from dataclasses import dataclass
from decimal import Decimal

from app.domain.events.base import DomainEvent as DomainEvent  # re-exported: the events' base

# The User aggregate.


@dataclass(frozen=True, kw_only=True)
class UserEvent(DomainEvent):
    aggregate_type = "user"


@dataclass(frozen=True, kw_only=True)
class UserRegistered(UserEvent):
    """Version 2 renamed ``full_name`` to ``name``; an upcaster reads version 1."""

    event_type = "user.registered"
    schema_version = 2

    email: str
    name: str


@dataclass(frozen=True, kw_only=True)
class LoyaltyPointsAwarded(UserEvent):
    event_type = "user.loyalty_points_awarded"

    order_id: str
    points: int
    balance: int


@dataclass(frozen=True, kw_only=True)
class LoyaltyPointsRevoked(UserEvent):
    event_type = "user.loyalty_points_revoked"

    order_id: str
    points: int
    balance: int


# The Order aggregate.


@dataclass(frozen=True)
class LineItem:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, kw_only=True)
class OrderEvent(DomainEvent):
    aggregate_type = "order"

    user_id: str


@dataclass(frozen=True, kw_only=True)
class OrderCreated(OrderEvent):
    """Version 2 added ``currency`` (ISO 4217); an upcaster reads version 1 as euros."""

    event_type = "order.created"
    schema_version = 2

    items: tuple[LineItem, ...]
    total: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class PaymentProcessed(OrderEvent):
    event_type = "order.payment_processed"

    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderShipped(OrderEvent):
    event_type = "order.shipped"


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(OrderEvent):
    event_type = "order.cancelled"

    reason: str
    was_paid: bool


EVENT_CLASSES: dict[str, type[DomainEvent]] = {
    cls.event_type: cls
    for cls in (
        UserRegistered,
        LoyaltyPointsAwarded,
        LoyaltyPointsRevoked,
        OrderCreated,
        PaymentProcessed,
        OrderShipped,
        OrderCancelled,
    )
}
"""Wire name -> class, for decoding stored and queued events; every event is listed here."""
