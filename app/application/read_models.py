"""Plain data returned by queries and written by projections."""

from dataclasses import dataclass
from decimal import Decimal

from app.domain.events import LineItem


@dataclass(frozen=True)
class OrderSummary:
    order_id: str
    user_id: str
    status: str
    total: Decimal
    items: tuple[LineItem, ...]
    version: int
    currency: str


@dataclass(frozen=True)
class UserProfile:
    user_id: str
    email: str
    name: str
    loyalty_points: int
    version: int


@dataclass(frozen=True)
class UserProfileView:
    user_id: str
    email: str
    name: str
    order_count: int
    total_spent: Decimal
    loyalty_points: int
