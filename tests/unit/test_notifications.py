from decimal import Decimal

import pytest

from app.application.event_handlers.registry import HANDLERS, subscribers
from app.domain.commands import CancelOrder, CreateOrder, ProcessPayment, ShipOrder
from app.domain.errors import NotFound
from app.domain.events import EVENT_CLASSES, LineItem
from app.domain.events.base import new_id
from app.domain.models import Order, User
from tests.fakes import Delivery, FakeDatabase, FakeOutbound, deliver, drain
from tests.unit.conftest import Run

EXTERNAL = {spec.name for spec in HANDLERS if spec.external is not None}


def _external(d: Delivery) -> bool:
    return d.handler in EXTERNAL


def _key(db: FakeDatabase, event_type: str, handler: str) -> str:
    [message] = db.messages(event_type)
    return f"{message.event.event_id}:{handler}"


def test_welcome_email_goes_to_the_registered_address(
    db: FakeDatabase, out: FakeOutbound, user: User
) -> None:
    drain(db, out.outbound(), only=_external)
    [email] = out.email.sent
    assert email.to == "Ada@Example.com"
    assert "Welcome" in email.subject
    assert "Ada" in email.body
    assert email.idempotency_key == _key(db, "user.registered", "send_welcome_email")


def test_an_order_lifecycle_sends_one_email_per_step_with_stable_keys(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User, order: Order
) -> None:
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    run(ShipOrder(order_id=order.id))
    drain(db, out.outbound(), only=_external)
    by_key = {e.idempotency_key: e for e in out.email.sent}
    expected = {
        _key(db, "user.registered", "send_welcome_email"): "Welcome",
        _key(db, "order.created", "send_order_confirmation"): f"Order {order.id} confirmed",
        _key(
            db, "order.payment_processed", "send_payment_receipt"
        ): f"Receipt for order {order.id}",
        _key(db, "order.shipped", "send_shipping_notice"): f"Order {order.id} shipped",
    }
    assert set(by_key) == set(expected)
    for key, subject in expected.items():
        assert subject in by_key[key].subject
        assert by_key[key].to == "Ada@Example.com"
    assert "30.97" in by_key[_key(db, "order.payment_processed", "send_payment_receipt")].body
    confirmation = by_key[_key(db, "order.created", "send_order_confirmation")].body
    assert "2 x book at 12.50" in confirmation
    assert "Total: 30.97" in confirmation


def test_the_receipt_names_the_currency_the_confirmation_names(
    db: FakeDatabase, out: FakeOutbound, run: Run, user: User
) -> None:
    """``order.payment_processed`` carries no currency: the receipt reads the order's."""
    items = (LineItem("book", 2, Decimal("12.50")),)
    order = run(CreateOrder(order_id=new_id(), user_id=user.id, items=items, currency="USD"))
    run(ProcessPayment(order_id=order.id, amount=Decimal("25.00")))
    drain(db, out.outbound(), only=lambda d: d.handler.startswith("send_"))
    bodies = {e.idempotency_key.split(":", 1)[1]: e.body for e in out.email.sent}
    assert "Total: 25.00 USD" in bodies["send_order_confirmation"]
    assert "we received your payment of 25.00 USD." in bodies["send_payment_receipt"]


def test_a_receipt_for_an_order_missing_from_the_write_side_is_not_found(
    db: FakeDatabase, out: FakeOutbound, run: Run, order: Order
) -> None:
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    del db.orders[order.id]
    [paid] = db.messages("order.payment_processed")
    with pytest.raises(NotFound):
        deliver(db, db.deliveries_of(paid.event.event_id)["send_payment_receipt"], out.outbound())
    assert out.email.sent == []


def test_cancellation_notice_carries_the_reason(
    db: FakeDatabase, out: FakeOutbound, run: Run, order: Order
) -> None:
    run(CancelOrder(order_id=order.id, reason="found it cheaper"))
    drain(db, out.outbound(), only=lambda d: d.handler == "send_cancellation_notice")
    [email] = out.email.sent
    assert "found it cheaper" in email.body
    assert email.idempotency_key == _key(db, "order.cancelled", "send_cancellation_notice")


def test_sales_channel_hears_of_every_new_order(
    db: FakeDatabase, out: FakeOutbound, order: Order
) -> None:
    drain(db, out.outbound(), only=_external)
    [post] = out.chat.posts
    assert order.id in post.text
    assert "30.97" in post.text
    assert post.idempotency_key == _key(db, "order.created", "notify_sales_channel")


def test_every_event_goes_to_the_webhooks_once_with_its_key(
    db: FakeDatabase, out: FakeOutbound, run: Run, order: Order
) -> None:
    run(ProcessPayment(order_id=order.id, amount=Decimal("30.97")))
    drain(db, out.outbound())  # everything, reactions included
    sent = [(c.message.event.event_id, c.idempotency_key) for c in out.webhooks.calls]
    assert sorted(sent) == sorted(
        (m.event.event_id, f"{m.event.event_id}:forward_to_webhooks") for m in db.messages()
    )
    assert {m.event.event_type for m in db.messages()} >= {"user.loyalty_points_awarded"}
    assert all(c.message in db.messages() for c in out.webhooks.calls)


def test_an_external_effect_repeats_with_the_same_key_when_its_receipt_was_lost(
    db: FakeDatabase, out: FakeOutbound, order: Order
) -> None:
    """At least once: a send whose receipt did not commit is sent again, same key."""
    [created] = db.messages("order.created")
    delivery = db.deliveries_of(created.event.event_id)["notify_sales_channel"]
    deliver(db, delivery, out.outbound())
    db.receipts.clear()
    delivery.status = "pending"
    deliver(db, delivery, out.outbound())
    assert len(out.chat.posts) == 2
    assert out.chat.posts[0].idempotency_key == out.chat.posts[1].idempotency_key


def test_a_failing_send_leaves_the_delivery_pending_and_retries_it(
    db: FakeDatabase, out: FakeOutbound, order: Order
) -> None:
    out.email.fail_with = ConnectionError("smtp down")
    [created] = db.messages("order.created")
    delivery = db.deliveries_of(created.event.event_id)["send_order_confirmation"]
    with pytest.raises(ConnectionError):
        deliver(db, delivery, out.outbound())
    assert delivery.status == "pending"
    assert (created.event.event_id, "send_order_confirmation") not in db.receipts
    out.email.fail_with = None
    assert deliver(db, delivery, out.outbound()).applied
    assert delivery.status == "done"
    assert len(out.email.sent) == 1


def test_an_email_for_a_user_without_contact_details_is_not_found(
    db: FakeDatabase, out: FakeOutbound, user: User, order: Order
) -> None:
    del db.users[user.id]
    [created] = db.messages("order.created")
    with pytest.raises(NotFound):
        deliver(
            db, db.deliveries_of(created.event.event_id)["send_order_confirmation"], out.outbound()
        )
    assert out.email.sent == []


def test_every_event_type_has_a_projection_and_the_webhook_forwarder() -> None:
    for event_type in EVENT_CLASSES:
        handlers = subscribers(event_type)
        assert "forward_to_webhooks" in handlers
        assert {"project_order_summary", "project_user_profile"} & set(handlers)
