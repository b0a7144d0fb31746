"""Events of the Order aggregate. Money fields are Decimal, sent as decimal strings."""

from dataclasses import dataclass
from decimal import Decimal

from app.domain.events.base import DomainEvent


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
