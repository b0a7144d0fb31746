"""Events of the User aggregate."""

from dataclasses import dataclass

from app.domain.events.base import DomainEvent


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
