"""Reactions: event handlers that issue commands in the same transaction as their receipt."""

from app.application import command_handlers
from app.application.event_handlers.projections import loyalty_points_for
from app.application.event_handlers.specs import HandlerSpec, database_handler
from app.application.messages import EventMessage
from app.application.ports import UnitOfWork
from app.domain.commands import AwardLoyaltyPoints, RevokeLoyaltyPoints
from app.domain.events import OrderCancelled, PaymentProcessed
from app.domain.models import OrderStatus


def award_loyalty_points(message: EventMessage, uow: UnitOfWork) -> None:
    """Award points for a payment unless the order was cancelled before we got here."""
    event = message.event
    assert isinstance(event, PaymentProcessed)
    order = uow.orders.get(event.aggregate_id)
    if order is None or order.status not in (OrderStatus.PAID, OrderStatus.SHIPPED):
        return
    command_handlers.handle(
        AwardLoyaltyPoints(
            user_id=event.user_id,
            order_id=event.aggregate_id,
            points=loyalty_points_for(event.amount),
        ),
        uow,
    )


def revoke_loyalty_points(message: EventMessage, uow: UnitOfWork) -> None:
    event = message.event
    assert isinstance(event, OrderCancelled)
    if not event.was_paid:
        return
    command_handlers.handle(
        RevokeLoyaltyPoints(user_id=event.user_id, order_id=event.aggregate_id), uow
    )


HANDLERS: tuple[HandlerSpec, ...] = (
    database_handler(
        "award_loyalty_points", {"order.payment_processed"}, award_loyalty_points, "reactions"
    ),
    database_handler(
        "revoke_loyalty_points", {"order.cancelled"}, revoke_loyalty_points, "reactions"
    ),
)
