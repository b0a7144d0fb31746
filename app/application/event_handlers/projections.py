"""Projections: fold an aggregate's stored events into its read model.

Folding the whole stream (rather than patching the row with one event) makes the
projection indifferent to delivery order and duplicates, and makes a rebuild run the
very same code as live updates.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.application.event_handlers.specs import (
    ORDER_EVENTS,
    USER_EVENTS,
    HandlerSpec,
    database_handler,
)
from app.application.messages import EventMessage
from app.application.ports import UnitOfWork
from app.application.read_models import OrderSummary, UserProfile
from app.domain.events import (
    DomainEvent,
    LoyaltyPointsAwarded,
    LoyaltyPointsRevoked,
    OrderCreated,
    UserRegistered,
)
from app.domain.models import Order


def fold_order_summary(events: Sequence[DomainEvent]) -> OrderSummary | None:
    """The order's summary; its status is the one the Order aggregate's own fold reaches."""
    order = Order.from_events(events)
    if order is None:
        return None
    created = events[0]
    assert isinstance(created, OrderCreated)
    return OrderSummary(
        order_id=order.id,
        user_id=order.user_id,
        status=order.status.value,
        total=created.total,
        items=order.items,
        version=order.version,
        currency=order.currency,
    )


def fold_user_profile(events: Sequence[DomainEvent]) -> UserProfile | None:
    registered = next((e for e in events if isinstance(e, UserRegistered)), None)
    if registered is None:
        return None
    points = 0
    for event in events:
        if isinstance(event, LoyaltyPointsAwarded | LoyaltyPointsRevoked):
            points = event.balance
    return UserProfile(
        user_id=registered.aggregate_id,
        email=registered.email,
        name=registered.name,
        loyalty_points=points,
        version=events[-1].aggregate_version,
    )


def project_order_summary(message: EventMessage, uow: UnitOfWork) -> None:
    summary = fold_order_summary(uow.events.load_stream(message.event.aggregate_id))
    if summary is not None:
        uow.projections.upsert_order_summary(summary)


def project_user_profile(message: EventMessage, uow: UnitOfWork) -> None:
    profile = fold_user_profile(uow.events.load_stream(message.event.aggregate_id))
    if profile is not None:
        uow.projections.upsert_user_profile(profile)


@dataclass(frozen=True)
class Projection:
    """One read model: the stream fold behind it and the handler that keeps it live.

    A rebuild folds every stream of ``aggregate_type`` with ``fold``, the very function
    the live ``handler`` runs, so a rebuilt projection equals the live one.
    """

    name: str
    handler: str
    aggregate_type: str
    fold: Callable[[Sequence[DomainEvent]], OrderSummary | UserProfile | None]


PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        Projection("order_summaries", "project_order_summary", "order", fold_order_summary),
        Projection("user_profiles", "project_user_profile", "user", fold_user_profile),
    )
}


def loyalty_points_for(amount: Decimal) -> int:
    """One point per whole unit paid."""
    return int(amount)


HANDLERS: tuple[HandlerSpec, ...] = (
    database_handler("project_order_summary", ORDER_EVENTS, project_order_summary, "projections"),
    database_handler("project_user_profile", USER_EVENTS, project_user_profile, "projections"),
)
