"""The Order aggregate: line items, total and the status machine.

created -> paid -> shipped; created|paid -> cancelled.
"""

import re
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum

from app.domain.errors import InvalidCommand, InvalidTransition
from app.domain.events import (
    DomainEvent,
    LineItem,
    OrderCancelled,
    OrderCreated,
    OrderShipped,
    PaymentProcessed,
)
from app.domain.models.aggregate import Aggregate
from app.domain.money import DEFAULT_CURRENCY, MAX_AMOUNT

MAX_LINE_ITEMS = 100
CURRENCY = re.compile(r"^[A-Z]{3}$")


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


_STATUS_AFTER: dict[type[DomainEvent], OrderStatus] = {
    PaymentProcessed: OrderStatus.PAID,
    OrderShipped: OrderStatus.SHIPPED,
    OrderCancelled: OrderStatus.CANCELLED,
}


class Order(Aggregate):
    def __init__(
        self,
        order_id: str,
        user_id: str,
        items: tuple[LineItem, ...],
        status: OrderStatus = OrderStatus.CREATED,
        version: int = 0,
        currency: str = DEFAULT_CURRENCY,
    ) -> None:
        super().__init__(order_id, version)
        self.user_id = user_id
        self.items = items
        self.status = status
        self.currency = currency

    @property
    def total(self) -> Decimal:
        return sum((item.subtotal for item in self.items), Decimal("0.00"))

    @classmethod
    def create(
        cls,
        order_id: str,
        user_id: str,
        items: tuple[LineItem, ...],
        currency: str = DEFAULT_CURRENCY,
    ) -> "Order":
        if not CURRENCY.match(currency):
            raise InvalidCommand("must be an ISO 4217 code like EUR", field="currency")
        if not items:
            raise InvalidCommand("an order needs at least one line item", field="items")
        if len(items) > MAX_LINE_ITEMS:
            raise InvalidCommand(f"at most {MAX_LINE_ITEMS} line items", field="items")
        for item in items:
            if item.quantity < 1:
                raise InvalidCommand("quantity must be at least 1", field="items")
            if item.unit_price < 0:
                raise InvalidCommand("unit_price must not be negative", field="items")
            if not item.sku.strip():
                raise InvalidCommand("sku must not be blank", field="items")
        order = cls(order_id, user_id, items, currency=currency)
        if order.total >= MAX_AMOUNT:
            raise InvalidCommand(
                f"the order total must be less than {MAX_AMOUNT:,.0f}", field="items"
            )
        order._record(
            OrderCreated, user_id=user_id, items=items, total=order.total, currency=currency
        )
        return order

    @classmethod
    def from_events(cls, events: Sequence[DomainEvent]) -> "Order | None":
        """The order its stored events describe (None without an ``OrderCreated``)."""
        if not events or not isinstance(events[0], OrderCreated):
            return None
        created = events[0]
        order = cls(
            created.aggregate_id,
            created.user_id,
            created.items,
            version=created.aggregate_version,
            currency=created.currency,
        )
        for event in events[1:]:
            order.status = _STATUS_AFTER.get(type(event), order.status)
            order.version = order.loaded_version = event.aggregate_version
        return order

    def pay(self, amount: Decimal) -> None:
        if self.status is not OrderStatus.CREATED:
            raise InvalidTransition(f"cannot pay an order that is {self.status}")
        if amount != self.total:
            raise InvalidCommand(f"must equal the order total {self.total}", field="amount")
        self.status = OrderStatus.PAID
        self._record(PaymentProcessed, user_id=self.user_id, amount=amount)

    def ship(self) -> None:
        if self.status is not OrderStatus.PAID:
            raise InvalidTransition(f"cannot ship an order that is {self.status}")
        self.status = OrderStatus.SHIPPED
        self._record(OrderShipped, user_id=self.user_id)

    def cancel(self, reason: str) -> None:
        if self.status not in (OrderStatus.CREATED, OrderStatus.PAID):
            raise InvalidTransition(f"cannot cancel an order that is {self.status}")
        was_paid = self.status is OrderStatus.PAID
        self.status = OrderStatus.CANCELLED
        self._record(OrderCancelled, user_id=self.user_id, reason=reason, was_paid=was_paid)
