"""The interfaces the application needs; infrastructure and test fakes implement them."""

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from app.application.messages import EventMessage, MessageContext
from app.application.read_models import OrderSummary, UserProfile, UserProfileView
from app.domain.events import DomainEvent
from app.domain.models import Order, User


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Insert a new user; raises EmailTaken when the email is already registered."""

    def get(self, user_id: str) -> User | None: ...

    def get_by_email(self, email: str) -> User | None: ...

    def save(self, user: User) -> None:
        """Write changes; raises ConcurrencyConflict if someone else saved it first."""


class OrderRepository(Protocol):
    def add(self, order: Order) -> None: ...

    def get(self, order_id: str) -> Order | None: ...

    def save(self, order: Order) -> None:
        """Write changes; raises ConcurrencyConflict if someone else saved it first."""


class EventStreams(Protocol):
    def load_stream(self, aggregate_id: str) -> list[DomainEvent]:
        """Every stored event of one aggregate, oldest first, upcast to current versions."""

    def aggregate_ids(self, aggregate_type: str) -> Iterable[str]: ...


class ProjectionWriter(Protocol):
    def upsert_order_summary(self, summary: OrderSummary) -> None:
        """Write unless the stored row already reflects this version or a newer one."""

    def upsert_user_profile(self, profile: UserProfile) -> None:
        """Write unless the stored row already reflects this version or a newer one."""

    def clear(self) -> None: ...


class HandlerReceipts(Protocol):
    def claim(self, event_id: str, handler: str) -> bool:
        """Record that ``handler`` applied ``event_id``; False if it already had."""

    def already_applied(self, event_id: str, handler: str) -> bool: ...

    def mark_delivery_done(self, delivery_id: int) -> None: ...


class UnitOfWork(abc.ABC):
    """One database transaction. Only ``commit`` makes anything durable.

    ``commit`` writes the events recorded by every aggregate touched, and one outbox
    delivery per event and subscribed handler, in the same transaction as the state.
    """

    users: UserRepository
    orders: OrderRepository
    events: EventStreams
    projections: ProjectionWriter
    receipts: HandlerReceipts
    context: MessageContext
    committed_delivery_ids: list[int]
    committed_position: int | None
    """Global position of the last event the commit wrote (None: it wrote none)."""

    def __enter__(self) -> "UnitOfWork":
        self.committed_delivery_ids = []
        self.committed_position = None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...


class ReadModelQueries(Protocol):
    def order_summary(self, order_id: str) -> OrderSummary | None: ...

    def user_profile(self, user_id: str) -> UserProfileView | None: ...

    def user_orders(self, user_id: str) -> Sequence[OrderSummary]: ...


class EmailSender(Protocol):
    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None: ...


class ChatNotifier(Protocol):
    def post(self, *, text: str, idempotency_key: str) -> None: ...


class WebhookSender(Protocol):
    def post_event(self, message: EventMessage, *, idempotency_key: str) -> None:
        """POST the event's envelope to every configured URL; raise if any answers non-2xx."""


class UserDirectory(Protocol):
    def contact(self, user_id: str) -> tuple[str, str] | None:
        """(email, name) of a registered user, read from the write side."""


@dataclass(frozen=True)
class Outbound:
    """Everything an external (non-transactional) event handler may talk to."""

    email: EmailSender
    chat: ChatNotifier
    webhooks: WebhookSender
    directory: UserDirectory
