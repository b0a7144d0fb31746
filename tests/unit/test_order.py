from collections.abc import Callable
from decimal import Decimal

import pytest

from app.domain.errors import InvalidCommand, InvalidTransition
from app.domain.events import (
    LineItem,
    OrderCancelled,
    OrderCreated,
    OrderShipped,
    PaymentProcessed,
)
from app.domain.models import Order, OrderStatus

ITEMS = (LineItem("book", 2, Decimal("12.50")), LineItem("pen", 3, Decimal("1.99")))


def created() -> Order:
    order = Order.create("o1", "u1", ITEMS)
    order.pending_events.clear()
    return order


def paid() -> Order:
    order = created()
    order.pay(Decimal("30.97"))
    order.pending_events.clear()
    return order


def test_total_is_the_decimal_sum_of_quantity_times_price() -> None:
    order = Order.create("o1", "u1", ITEMS)
    assert order.total == Decimal("30.97")
    assert isinstance(order.total, Decimal)
    many = Order.create("o2", "u1", (LineItem("a", 3, Decimal("0.10")),))
    assert many.total == Decimal("0.30")  # 3 * 0.1 in floats is 0.30000000000000004


def test_create_records_order_created() -> None:
    order = Order.create("o1", "u1", ITEMS)
    assert (order.status, order.version) == (OrderStatus.CREATED, 1)
    [event] = order.pending_events
    assert isinstance(event, OrderCreated)
    assert (event.aggregate_id, event.aggregate_version, event.user_id) == ("o1", 1, "u1")
    assert event.items == ITEMS
    assert event.total == Decimal("30.97")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ((), "at least one line item"),
        ((LineItem("a", 0, Decimal("1")),), "quantity"),
        ((LineItem("a", -2, Decimal("1")),), "quantity"),
        ((LineItem("a", 1, Decimal("-0.01")),), "unit_price"),
        ((LineItem("  ", 1, Decimal("1")),), "sku"),
        (tuple(LineItem(f"s{n}", 1, Decimal("1")) for n in range(101)), "at most 100"),
    ],
)
def test_create_refuses_bad_line_items(items: tuple[LineItem, ...], message: str) -> None:
    with pytest.raises(InvalidCommand, match=message) as refused:
        Order.create("o1", "u1", items)
    assert refused.value.field == "items"


def test_a_free_item_is_allowed() -> None:
    assert Order.create("o1", "u1", (LineItem("gift", 1, Decimal("0")),)).total == 0


def test_pay_the_exact_total() -> None:
    order = created()
    order.pay(Decimal("30.97"))
    assert (order.status, order.version) == (OrderStatus.PAID, 2)
    [event] = order.pending_events
    assert isinstance(event, PaymentProcessed)
    assert (event.amount, event.user_id, event.aggregate_version) == (Decimal("30.97"), "u1", 2)


@pytest.mark.parametrize("amount", ["30.96", "30.98", "0", "61.94"])
def test_pay_refuses_any_other_amount(amount: str) -> None:
    order = created()
    with pytest.raises(InvalidCommand) as refused:
        order.pay(Decimal(amount))
    assert refused.value.field == "amount"
    assert (order.status, order.version, order.pending_events) == (OrderStatus.CREATED, 1, [])


def test_ship_a_paid_order() -> None:
    order = paid()
    order.ship()
    assert (order.status, order.version) == (OrderStatus.SHIPPED, 3)
    [event] = order.pending_events
    assert isinstance(event, OrderShipped)


def test_cancel_a_created_order_was_not_paid() -> None:
    order = created()
    order.cancel("changed my mind")
    [event] = order.pending_events
    assert isinstance(event, OrderCancelled)
    assert (event.reason, event.was_paid) == ("changed my mind", False)
    assert order.status is OrderStatus.CANCELLED


def test_cancel_a_paid_order_says_it_was_paid() -> None:
    order = paid()
    order.cancel("")
    [event] = order.pending_events
    assert isinstance(event, OrderCancelled)
    assert event.was_paid is True


def _shipped() -> Order:
    order = paid()
    order.ship()
    return order


def _cancelled() -> Order:
    order = created()
    order.cancel("x")
    return order


@pytest.mark.parametrize(
    ("make", "action"),
    [
        (paid, lambda o: o.pay(Decimal("30.97"))),
        (_shipped, lambda o: o.pay(Decimal("30.97"))),
        (_cancelled, lambda o: o.pay(Decimal("30.97"))),
        (created, lambda o: o.ship()),
        (_shipped, lambda o: o.ship()),
        (_cancelled, lambda o: o.ship()),
        (_shipped, lambda o: o.cancel("too late")),
        (_cancelled, lambda o: o.cancel("again")),
    ],
    ids=[
        "pay-paid",
        "pay-shipped",
        "pay-cancelled",
        "ship-created",
        "ship-shipped",
        "ship-cancelled",
        "cancel-shipped",
        "cancel-cancelled",
    ],
)
def test_refused_transitions_change_nothing(
    make: Callable[[], Order], action: Callable[[Order], None]
) -> None:
    order = make()
    before = (order.status, order.version, list(order.pending_events))
    with pytest.raises(InvalidTransition):
        action(order)
    assert (order.status, order.version, list(order.pending_events)) == before


def test_paying_a_paid_order_is_a_transition_error_even_with_a_wrong_amount() -> None:
    """State is checked first: a second payment is a 409, not a 422."""
    with pytest.raises(InvalidTransition):
        paid().pay(Decimal("1.00"))
