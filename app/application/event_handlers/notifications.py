"""Notifications: emails to the customer, a message to the sales channel.

These talk to the outside world, so they run outside any database transaction and may
repeat; every send carries the same idempotency key on every attempt.

They need no setting to be subscribed: without ``SMTP_URL`` emails go to the maildir and
without ``SLACK_WEBHOOK_URL`` the sales channel's message goes to the log, stand-ins that
show each effect where it can be read (the README's walkthrough reads both).
"""

from typing import TypeVar

from app.application.event_handlers.specs import HandlerSpec, external_handler
from app.application.messages import EventMessage
from app.application.ports import Outbound
from app.domain.errors import NotFound
from app.domain.events import (
    DomainEvent,
    OrderCancelled,
    OrderCreated,
    OrderEvent,
    PaymentProcessed,
    UserRegistered,
)

E = TypeVar("E", bound=DomainEvent)


def _event(message: EventMessage, kind: type[E]) -> E:
    """The message's event, of the ``kind`` the handler is registered for."""
    event = message.event
    assert isinstance(event, kind)
    return event


def _email_customer(
    message: EventMessage, out: Outbound, key: str, subject: str, body: str
) -> None:
    event = _event(message, OrderEvent)
    contact = out.directory.contact(event.user_id)
    if contact is None:
        raise NotFound(f"user {event.user_id} has no contact details")
    email, name = contact
    out.email.send(
        to=email, subject=subject, body=f"Hello {name},\n\n{body}\n", idempotency_key=key
    )


def send_welcome_email(message: EventMessage, out: Outbound, key: str) -> None:
    event = _event(message, UserRegistered)
    out.email.send(
        to=event.email,
        subject="Welcome to outboxflow",
        body=f"Hello {event.name},\n\nthank you for registering.\n",
        idempotency_key=key,
    )


def send_order_confirmation(message: EventMessage, out: Outbound, key: str) -> None:
    event = _event(message, OrderCreated)
    lines = "\n".join(f"  {i.quantity} x {i.sku} at {i.unit_price}" for i in event.items)
    body = f"we received your order:\n{lines}\nTotal: {event.total} {event.currency}"
    _email_customer(message, out, key, f"Order {event.aggregate_id} confirmed", body)


def send_payment_receipt(message: EventMessage, out: Outbound, key: str) -> None:
    event = _event(message, PaymentProcessed)
    currency = out.orders.currency(event.aggregate_id)
    if currency is None:
        raise NotFound(f"order {event.aggregate_id} is not on the write side")
    body = f"we received your payment of {event.amount} {currency}."
    _email_customer(message, out, key, f"Receipt for order {event.aggregate_id}", body)


def send_shipping_notice(message: EventMessage, out: Outbound, key: str) -> None:
    subject = f"Order {message.event.aggregate_id} shipped"
    _email_customer(message, out, key, subject, "your order is on its way.")


def send_cancellation_notice(message: EventMessage, out: Outbound, key: str) -> None:
    event = _event(message, OrderCancelled)
    body = f"your order was cancelled: {event.reason or 'no reason given'}."
    _email_customer(message, out, key, f"Order {event.aggregate_id} cancelled", body)


def notify_sales_channel(message: EventMessage, out: Outbound, key: str) -> None:
    event = _event(message, OrderCreated)
    out.chat.post(
        text=f"New order {event.aggregate_id}: {len(event.items)} line(s), total {event.total}",
        idempotency_key=key,
    )


HANDLERS: tuple[HandlerSpec, ...] = (
    external_handler(
        "send_welcome_email", {"user.registered"}, send_welcome_email, "notifications"
    ),
    external_handler(
        "send_order_confirmation", {"order.created"}, send_order_confirmation, "notifications"
    ),
    external_handler(
        "send_payment_receipt", {"order.payment_processed"}, send_payment_receipt, "notifications"
    ),
    external_handler(
        "send_shipping_notice", {"order.shipped"}, send_shipping_notice, "notifications"
    ),
    external_handler(
        "send_cancellation_notice", {"order.cancelled"}, send_cancellation_notice, "notifications"
    ),
    external_handler(
        "notify_sales_channel",
        {"order.created"},
        notify_sales_channel,
        "notifications",
        max_attempts=3,  # a sales-channel ping that is hours late is noise, not news
    ),
)
