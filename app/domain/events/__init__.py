"""Every domain event, and the explicit map from wire name to class."""

from app.domain.events.base import DomainEvent
from app.domain.events.orders import (
    LineItem,
    OrderCancelled,
    OrderCreated,
    OrderEvent,
    OrderShipped,
    PaymentProcessed,
)
from app.domain.events.users import (
    LoyaltyPointsAwarded,
    LoyaltyPointsRevoked,
    UserEvent,
    UserRegistered,
)

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

__all__ = [
    "EVENT_CLASSES",
    "DomainEvent",
    "LineItem",
    "LoyaltyPointsAwarded",
    "LoyaltyPointsRevoked",
    "OrderCancelled",
    "OrderCreated",
    "OrderEvent",
    "OrderShipped",
    "PaymentProcessed",
    "UserEvent",
    "UserRegistered",
]
