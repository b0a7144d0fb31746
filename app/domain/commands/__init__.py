"""Commands: what a caller asks the system to do. Imperative names, frozen."""

from dataclasses import dataclass
from decimal import Decimal

from app.domain.events import LineItem
from app.domain.money import DEFAULT_CURRENCY


@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class RegisterUser(Command):
    user_id: str
    email: str
    name: str


@dataclass(frozen=True)
class CreateOrder(Command):
    order_id: str
    user_id: str
    items: tuple[LineItem, ...]
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True)
class ProcessPayment(Command):
    order_id: str
    amount: Decimal


@dataclass(frozen=True)
class ShipOrder(Command):
    order_id: str


@dataclass(frozen=True)
class CancelOrder(Command):
    order_id: str
    reason: str


@dataclass(frozen=True)
class AwardLoyaltyPoints(Command):
    user_id: str
    order_id: str
    points: int


@dataclass(frozen=True)
class RevokeLoyaltyPoints(Command):
    user_id: str
    order_id: str
