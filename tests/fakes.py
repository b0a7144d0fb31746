"""In-memory fakes of the ports in ``app.application.ports``, for unit tests.

They enforce what the SQL adapters enforce, so a handler that passes against them is not
relying on leniency the database would not grant:

* nothing a unit of work writes is visible to anyone else before ``commit``;
* leaving ``with uow:`` without committing (or an exception) discards everything;
* emails are unique case-insensitively (``EmailTaken``);
* saving an aggregate whose stored version moved on, or appending an event whose
  (aggregate id, version) already exists, raises ``ConcurrencyConflict``;
* ``commit`` appends the recorded events and one pending delivery per subscribed handler
  (``registry.subscribers``) together with the state, or nothing at all;
* projection upserts never replace a row with an older version.

A ``FakeDatabase`` is the committed state every ``FakeUnitOfWork`` shares.
"""

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from app.application.deliveries import DeliveryOutcome, apply_delivery
from app.application.event_handlers.registry import HANDLERS_BY_NAME, subscribers
from app.application.messages import EventMessage, MessageContext
from app.application.ports import (
    ClaimedKey,
    Committed,
    FinishDelivery,
    Outbound,
    Reply,
    UnitOfWork,
)
from app.application.read_models import OrderSummary, UserProfile, UserProfileView
from app.domain.errors import ConcurrencyConflict, EmailTaken
from app.domain.events import DomainEvent, LineItem
from app.domain.models import Order, OrderStatus, User, normalize_email
from app.domain.models.aggregate import Aggregate

SPENDING_STATUSES = frozenset({"paid", "shipped"})


@dataclass
class UserRow:
    id: str
    email: str
    name: str
    loyalty_points: int
    loyalty_awards: dict[str, int]
    version: int


@dataclass
class OrderRow:
    id: str
    user_id: str
    status: str
    items: tuple[LineItem, ...]
    version: int
    currency: str


@dataclass(frozen=True)
class StoredEvent:
    position: int
    message: EventMessage


@dataclass
class Delivery:
    delivery_id: int
    event_id: str
    handler: str
    status: str = "pending"


@dataclass
class FakeDatabase:
    """The committed state: what a fresh unit of work (another request, another worker) sees."""

    users: dict[str, UserRow] = field(default_factory=dict)
    orders: dict[str, OrderRow] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)
    deliveries: dict[int, Delivery] = field(default_factory=dict)
    receipts: set[tuple[str, str]] = field(default_factory=set)
    replies: dict[tuple[str, str], Reply] = field(default_factory=dict)
    order_summaries: dict[str, OrderSummary] = field(default_factory=dict)
    user_profiles: dict[str, UserProfile] = field(default_factory=dict)
    subscribers: Callable[[str], list[str]] = subscribers

    def messages(self, event_type: str | None = None) -> list[EventMessage]:
        """Stored events in commit order, optionally of one type."""
        return [
            s.message
            for s in self.events
            if event_type is None or s.message.event.event_type == event_type
        ]

    def deliveries_of(self, event_id: str) -> dict[str, Delivery]:
        return {d.handler: d for d in self.deliveries.values() if d.event_id == event_id}

    def row_counts(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "orders": len(self.orders),
            "events": len(self.events),
            "deliveries": len(self.deliveries),
            "receipts": len(self.receipts),
            "order_summaries": len(self.order_summaries),
            "user_profiles": len(self.user_profiles),
        }


class _Transaction:
    """Writes staged by one unit of work; reads see them over the committed state."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.users: dict[str, UserRow] = {}
        self.user_bases: dict[str, int | None] = {}
        self.orders: dict[str, OrderRow] = {}
        self.order_bases: dict[str, int | None] = {}
        self.receipts: set[tuple[str, str]] = set()
        self.replies: dict[tuple[str, str], Reply] = {}
        self.done_deliveries: set[int] = set()
        self.order_summaries: dict[str, OrderSummary] = {}
        self.user_profiles: dict[str, UserProfile] = {}
        self.cleared = False

    def user_row(self, user_id: str) -> UserRow | None:
        return self.users.get(user_id) or self.db.users.get(user_id)

    def order_row(self, order_id: str) -> OrderRow | None:
        return self.orders.get(order_id) or self.db.orders.get(order_id)

    def visible_summaries(self) -> dict[str, OrderSummary]:
        base = {} if self.cleared else dict(self.db.order_summaries)
        return {**base, **self.order_summaries}

    def visible_profiles(self) -> dict[str, UserProfile]:
        base = {} if self.cleared else dict(self.db.user_profiles)
        return {**base, **self.user_profiles}

    def commit(self, new_events: Sequence[DomainEvent], context: MessageContext) -> list[int]:
        """Check every constraint against the committed state, then apply all or nothing."""
        db = self.db
        for user_id, base in self.user_bases.items():
            if _stored_version(db.users.get(user_id)) != base:
                raise ConcurrencyConflict(f"user {user_id} was changed by another request")
        for order_id, base in self.order_bases.items():
            if _stored_version(db.orders.get(order_id)) != base:
                raise ConcurrencyConflict(f"order {order_id} was changed by another request")
        for user_id, row in self.users.items():
            key = normalize_email(row.email)
            for other in db.users.values():
                if other.id != user_id and normalize_email(other.email) == key:
                    raise EmailTaken("this email address is already registered")
        taken = {
            (s.message.event.aggregate_id, s.message.event.aggregate_version) for s in db.events
        }
        for event in new_events:
            if (event.aggregate_id, event.aggregate_version) in taken:
                raise ConcurrencyConflict("the aggregate was changed by another request")
            taken.add((event.aggregate_id, event.aggregate_version))
        if self.receipts & db.receipts:
            raise ConcurrencyConflict("another worker recorded the same handler receipt first")

        db.users.update(copy.deepcopy(self.users))
        db.orders.update(copy.deepcopy(self.orders))
        delivery_ids: list[int] = []
        for event in new_events:
            db.events.append(
                StoredEvent(
                    len(db.events) + 1,
                    EventMessage(event, context),
                )
            )
            for handler in db.subscribers(event.event_type):
                delivery_id = len(db.deliveries) + 1
                db.deliveries[delivery_id] = Delivery(delivery_id, event.event_id, handler)
                delivery_ids.append(delivery_id)
        db.receipts |= self.receipts
        db.replies.update(self.replies)
        for delivery_id in self.done_deliveries:
            if delivery_id in db.deliveries:
                db.deliveries[delivery_id].status = "done"
        if self.cleared:
            db.order_summaries.clear()
            db.user_profiles.clear()
        for summary in self.order_summaries.values():
            old_summary = db.order_summaries.get(summary.order_id)
            if old_summary is None or old_summary.version < summary.version:
                db.order_summaries[summary.order_id] = summary
        for profile in self.user_profiles.values():
            old_profile = db.user_profiles.get(profile.user_id)
            if old_profile is None or old_profile.version < profile.version:
                db.user_profiles[profile.user_id] = profile
        return delivery_ids


def _stored_version(row: UserRow | OrderRow | None) -> int | None:
    return None if row is None else row.version


class _Tracking:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx
        self.seen: list[Aggregate] = []

    def _track(self, aggregate: Aggregate) -> None:
        if aggregate not in self.seen:
            self.seen.append(aggregate)

    def _check_version(self, row: UserRow | OrderRow | None, aggregate: Aggregate) -> None:
        if row is None or row.version != aggregate.loaded_version:
            raise ConcurrencyConflict(f"{aggregate.id} was changed by another request; retry")


class FakeUserRepository(_Tracking):
    def add(self, user: User) -> None:
        key = normalize_email(user.email)
        visible = {**self._tx.db.users, **self._tx.users}
        if user.id in visible or any(normalize_email(r.email) == key for r in visible.values()):
            raise EmailTaken("this email address is already registered")
        self._tx.users[user.id] = _user_row(user)
        self._tx.user_bases[user.id] = None
        self._track(user)

    def get(self, user_id: str) -> User | None:
        row = self._tx.user_row(user_id)
        return None if row is None else _user(row)

    def exists(self, user_id: str) -> bool:
        return self._tx.user_row(user_id) is not None

    def get_by_email(self, email: str) -> User | None:
        key = normalize_email(email)
        visible = {**self._tx.db.users, **self._tx.users}
        row = next((r for r in visible.values() if normalize_email(r.email) == key), None)
        return None if row is None else _user(row)

    def save(self, user: User) -> None:
        if user.version == user.loaded_version:
            return
        self._check_version(self._tx.user_row(user.id), user)
        self._tx.user_bases.setdefault(user.id, user.loaded_version)
        self._tx.users[user.id] = _user_row(user)
        self._track(user)


class FakeOrderRepository(_Tracking):
    def add(self, order: Order) -> None:
        if self._tx.user_row(order.user_id) is None:
            raise LookupError(f"foreign key: user {order.user_id} does not exist")
        if self._tx.order_row(order.id) is not None:
            raise LookupError(f"primary key: order {order.id} already exists")
        self._tx.orders[order.id] = _order_row(order)
        self._tx.order_bases[order.id] = None
        self._track(order)

    def get(self, order_id: str) -> Order | None:
        row = self._tx.order_row(order_id)
        if row is None:
            return None
        return Order(
            row.id,
            row.user_id,
            row.items,
            OrderStatus(row.status),
            version=row.version,
            currency=row.currency,
        )

    def save(self, order: Order) -> None:
        if order.version == order.loaded_version:
            return
        self._check_version(self._tx.order_row(order.id), order)
        self._tx.order_bases.setdefault(order.id, order.loaded_version)
        self._tx.orders[order.id] = _order_row(order)
        self._track(order)


def _user_row(user: User) -> UserRow:
    return UserRow(
        user.id, user.email, user.name, user.loyalty_points, dict(user.loyalty_awards), user.version
    )


def _user(row: UserRow) -> User:
    return User(
        row.id,
        row.email,
        row.name,
        loyalty_points=row.loyalty_points,
        loyalty_awards=dict(row.loyalty_awards),
        version=row.version,
    )


def _order_row(order: Order) -> OrderRow:
    return OrderRow(
        order.id, order.user_id, str(order.status), order.items, order.version, order.currency
    )


class FakeEventStreams:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    def load_stream(self, aggregate_id: str) -> list[DomainEvent]:
        events = [
            s.message.event
            for s in self._tx.db.events
            if s.message.event.aggregate_id == aggregate_id
        ]
        return sorted(events, key=lambda e: e.aggregate_version)

    def aggregate_ids(self, aggregate_type: str) -> Iterable[str]:
        ids: dict[str, None] = {}
        for stored in self._tx.db.events:
            event = stored.message.event
            if event.aggregate_type == aggregate_type:
                ids.setdefault(event.aggregate_id)
        return list(ids)


class FakeProjectionWriter:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    def upsert_order_summary(self, summary: OrderSummary) -> None:
        old = self._tx.visible_summaries().get(summary.order_id)
        if old is None or old.version < summary.version:
            self._tx.order_summaries[summary.order_id] = summary

    def upsert_user_profile(self, profile: UserProfile) -> None:
        old = self._tx.visible_profiles().get(profile.user_id)
        if old is None or old.version < profile.version:
            self._tx.user_profiles[profile.user_id] = profile

    def user_profile(self, user_id: str) -> UserProfile | None:
        return self._tx.visible_profiles().get(user_id)

    def clear(self) -> None:
        self._tx.cleared = True
        self._tx.order_summaries.clear()
        self._tx.user_profiles.clear()


class FakeHandlerReceipts:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    def claim(self, event_id: str, handler: str) -> bool:
        if self.already_applied(event_id, handler):
            return False
        self._tx.receipts.add((event_id, handler))
        return True

    def already_applied(self, event_id: str, handler: str) -> bool:
        key = (event_id, handler)
        return key in self._tx.receipts or key in self._tx.db.receipts

    def mark_delivery_done(self, delivery_id: int) -> None:
        self._tx.done_deliveries.add(delivery_id)


class FakeReplies:
    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    def keep(self, key: ClaimedKey, reply: Reply) -> None:
        self._tx.replies[(key.caller, key.key)] = reply


class FakeUnitOfWork(UnitOfWork):
    users: FakeUserRepository
    orders: FakeOrderRepository

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self._tx: _Transaction | None = None
        self.committed = False
        self.rolled_back = False

    def __enter__(self) -> UnitOfWork:
        self._begin()
        self.committed = self.rolled_back = False
        return super().__enter__()

    def _begin(self) -> None:
        self._tx = tx = _Transaction(self.db)
        self.users = FakeUserRepository(tx)
        self.orders = FakeOrderRepository(tx)
        self.events = FakeEventStreams(tx)
        self.projections = FakeProjectionWriter(tx)
        self.receipts = FakeHandlerReceipts(tx)
        self.replies = FakeReplies(tx)

    def commit(self, context: MessageContext) -> Committed:
        assert self._tx is not None, "commit outside 'with uow:'"
        touched = [*self.users.seen, *self.orders.seen]
        new_events = [event for aggregate in touched for event in aggregate.pending_events]
        delivery_ids = self._tx.commit(new_events, context)
        for aggregate in touched:
            aggregate.pending_events.clear()
            aggregate.loaded_version = aggregate.version
        self.committed = True
        self._begin()
        return Committed(self.db.events[-1].position if new_events else None, delivery_ids)

    def rollback(self) -> None:
        if self._tx is not None and not self.committed:
            self.rolled_back = True
        self._tx = None


def uow_factory(db: FakeDatabase) -> Callable[[], FakeUnitOfWork]:
    return lambda: FakeUnitOfWork(db)


def finish_in(db: FakeDatabase) -> FinishDelivery:
    """The delivery ledger's ``finish`` over the fake database."""

    def finish(delivery_id: int, *, receipt: tuple[str, str] | None = None) -> None:
        with FakeUnitOfWork(db) as uow:
            if receipt is not None:
                uow.receipts.claim(*receipt)
            uow.receipts.mark_delivery_done(delivery_id)
            uow.commit(MessageContext.root("delivery-ledger"))

    return finish


class FakeReadModelQueries:
    """Reads the committed projections the way ``SqlReadModelQueries`` does."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    def order_summary(self, order_id: str) -> OrderSummary | None:
        return self._db.order_summaries.get(order_id)

    def user_profile(self, user_id: str) -> UserProfileView | None:
        profile = self._db.user_profiles.get(user_id)
        if profile is None:
            return None
        orders = self.user_orders(user_id)
        spent = sum((o.total for o in orders if o.status in SPENDING_STATUSES), Decimal("0.00"))
        return UserProfileView(
            user_id=profile.user_id,
            email=profile.email,
            name=profile.name,
            order_count=len(orders),
            total_spent=spent,
            loyalty_points=profile.loyalty_points,
        )

    def user_orders(self, user_id: str) -> Sequence[OrderSummary]:
        return sorted(
            (s for s in self._db.order_summaries.values() if s.user_id == user_id),
            key=lambda s: s.order_id,
        )


@dataclass(frozen=True)
class SentEmail:
    to: str
    subject: str
    body: str
    idempotency_key: str


class FakeEmailSender:
    def __init__(self) -> None:
        self.sent: list[SentEmail] = []
        self.fail_with: Exception | None = None

    def send(self, *, to: str, subject: str, body: str, idempotency_key: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(SentEmail(to, subject, body, idempotency_key))


@dataclass(frozen=True)
class ChatPost:
    text: str
    idempotency_key: str


class FakeChat:
    def __init__(self) -> None:
        self.posts: list[ChatPost] = []
        self.fail_with: Exception | None = None

    def post(self, *, text: str, idempotency_key: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.posts.append(ChatPost(text, idempotency_key))


@dataclass(frozen=True)
class WebhookCall:
    message: EventMessage
    idempotency_key: str


class FakeWebhooks:
    def __init__(self) -> None:
        self.calls: list[WebhookCall] = []
        self.fail_with: Exception | None = None

    def post_event(self, message: EventMessage, *, idempotency_key: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append(WebhookCall(message, idempotency_key))


class FakeDirectory:
    """Contact details from the committed write side, like ``SqlUserDirectory``."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    def contact(self, user_id: str) -> tuple[str, str] | None:
        row = self._db.users.get(user_id)
        return None if row is None else (row.email, row.name)


class FakeOrderDirectory:
    """Orders' currencies from the committed write side, like ``SqlOrderDirectory``."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    def currency(self, order_id: str) -> str | None:
        row = self._db.orders.get(order_id)
        return None if row is None else row.currency


@dataclass
class FakeOutbound:
    """The fakes behind an ``Outbound``, kept typed so tests can read what they recorded."""

    email: FakeEmailSender
    chat: FakeChat
    webhooks: FakeWebhooks
    directory: FakeDirectory
    orders: FakeOrderDirectory

    @classmethod
    def over(cls, db: FakeDatabase) -> "FakeOutbound":
        return cls(
            FakeEmailSender(), FakeChat(), FakeWebhooks(), FakeDirectory(db), FakeOrderDirectory(db)
        )

    def outbound(self) -> Outbound:
        return Outbound(
            email=self.email,
            chat=self.chat,
            webhooks=self.webhooks,
            directory=self.directory,
            orders=self.orders,
        )


def message_for(db: FakeDatabase, delivery: Delivery) -> EventMessage:
    return next(s.message for s in db.events if s.message.event.event_id == delivery.event_id)


def deliver(db: FakeDatabase, delivery: Delivery, outbound: Outbound) -> DeliveryOutcome:
    """What a worker does with one delivery: run its handler through ``apply_delivery``."""
    return apply_delivery(
        HANDLERS_BY_NAME[delivery.handler],
        message_for(db, delivery),
        delivery.delivery_id,
        uow_factory(db),
        outbound,
        finish_in(db),
    )


def drain(
    db: FakeDatabase,
    outbound: Outbound,
    *,
    order: Callable[[list[Delivery]], Iterable[Delivery]] = lambda ds: ds,
    only: Callable[[Delivery], bool] = lambda d: True,
) -> int:
    """Relay and worker in one loop: deliver pending deliveries until none is left.

    ``order`` may reorder or repeat a round's deliveries (redelivery, out-of-order
    brokers); ``only`` leaves some deliveries pending. Returns how many ran.
    """
    ran = 0
    while True:
        due = [d for d in db.deliveries.values() if d.status != "done" and only(d)]
        if not due:
            return ran
        for delivery in order(due):
            deliver(db, delivery, outbound)
            ran += 1
