"""Projections: fold an aggregate's stored events into its read model.

Folding the stream (rather than trusting the one event delivered) makes the projection
indifferent to delivery order and duplicates, and makes a rebuild run the very same code
as live updates. A user's stream grows without end, so its profile applies the next event
on top of the stored row with the same step the fold is made of, and folds only when an
event arrives out of order.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import reduce

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


def evolve_user_profile(profile: UserProfile | None, event: DomainEvent) -> UserProfile | None:
    """The profile after one more event of its stream (None before the registration)."""
    if isinstance(event, UserRegistered):
        return UserProfile(
            user_id=event.aggregate_id,
            email=event.email,
            name=event.name,
            loyalty_points=0,
            version=event.aggregate_version,
        )
    if profile is None:
        return None
    points = (
        event.balance
        if isinstance(event, LoyaltyPointsAwarded | LoyaltyPointsRevoked)
        else profile.loyalty_points
    )
    return replace(profile, loyalty_points=points, version=event.aggregate_version)


def fold_user_profile(events: Sequence[DomainEvent]) -> UserProfile | None:
    return reduce(evolve_user_profile, events, None)


def project_order_summary(message: EventMessage, uow: UnitOfWork) -> None:
    summary = fold_order_summary(uow.events.load_stream(message.event.aggregate_id))
    if summary is not None:
        uow.projections.upsert_order_summary(summary)


def project_user_profile(message: EventMessage, uow: UnitOfWork) -> None:
    """Apply the event to the stored profile when it is the next one; fold the stream when not.

    A user's stream grows with every order paid, so folding it whole on each event would
    cost more the more a customer buys. The stored row is the fold of the stream up to its
    version: an event at or below it is already in, the next one is applied on top, and
    anything else (a gap left by deliveries arriving out of order, no row yet) is folded
    from the event store as before.
    """
    event = message.event
    stored = uow.projections.user_profile(event.aggregate_id)
    if stored is not None and stored.version >= event.aggregate_version:
        return
    if stored is not None and stored.version + 1 == event.aggregate_version:
        profile = evolve_user_profile(stored, event)
    else:
        profile = fold_user_profile(uow.events.load_stream(event.aggregate_id))
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
