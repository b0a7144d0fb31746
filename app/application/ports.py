"""The interfaces the application needs; infrastructure and test fakes implement them."""

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol

from app.application.messages import EventMessage, MessageContext
from app.application.read_models import OrderSummary, UserProfile, UserProfileView
from app.domain.events import DomainEvent
from app.domain.models import Order, User


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Insert a new user; raises EmailTaken when the email is already registered."""

    def get(self, user_id: str) -> User | None: ...

    def exists(self, user_id: str) -> bool:
        """Cheaper than ``get`` when only existence matters (no state is loaded)."""

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

    def user_profile(self, user_id: str) -> UserProfile | None:
        """The stored profile row as this transaction sees it."""

    def clear(self) -> None: ...


class HandlerReceipts(Protocol):
    def claim(self, event_id: str, handler: str) -> bool:
        """Record that ``handler`` applied ``event_id``; False if it already had."""

    def already_applied(self, event_id: str, handler: str) -> bool: ...

    def mark_delivery_done(self, delivery_id: int) -> None: ...


@dataclass(frozen=True)
class Reply:
    """What a command answers its caller: a status code and a JSON body."""

    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class ClaimedKey:
    """An idempotency key one request holds while its command runs (``claim`` proves it)."""

    caller: str
    key: str
    claim: str


@dataclass(frozen=True)
class Replay:
    """A command's stored reply, answered again to a repeat of its idempotency key."""

    status_code: int
    body: Any
    event_position: int | None


class Reused:
    """The key was first sent with another path or body."""


class InFlight:
    """The first request with this key has not answered yet."""


ClaimOutcome = ClaimedKey | Replay | Reused | InFlight
"""What claiming an idempotency key finds: the claim itself, or why the command must not run."""


class Replies(Protocol):
    def keep(self, key: ClaimedKey, reply: Reply) -> None:
        """Store ``reply`` for ``key`` when the unit of work commits, with the position of
        the last event it writes: the reply commits with the command or not at all."""


@dataclass(frozen=True)
class Committed:
    """What one commit wrote."""

    position: int | None
    """Global position of the last event written (None: it wrote none)."""
    delivery_ids: list[int]
    """The outbox rows written, one per event and subscribed handler."""


class UnitOfWork(abc.ABC):
    """One database transaction. Only ``commit`` makes anything durable.

    ``commit(context)`` writes the events recorded by every aggregate touched, stamped with
    the context of the command or reaction that caused them, and one outbox delivery per
    event and subscribed handler, in the same transaction as the state; it returns what
    it wrote.
    """

    users: UserRepository
    orders: OrderRepository
    events: EventStreams
    projections: ProjectionWriter
    receipts: HandlerReceipts
    replies: Replies

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abc.abstractmethod
    def commit(self, context: MessageContext) -> Committed: ...

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


class OrderDirectory(Protocol):
    def currency(self, order_id: str) -> str | None:
        """The ISO 4217 code an order was placed in, read from the write side (it never
        changes after ``order.created``); None for an unknown order. For events that do
        not carry the currency themselves, such as ``order.payment_processed``."""


@dataclass(frozen=True)
class Outbound:
    """Everything an external (non-transactional) event handler may talk to."""

    email: EmailSender
    chat: ChatNotifier
    webhooks: WebhookSender
    directory: UserDirectory
    orders: OrderDirectory


class DeliveryStatus(StrEnum):
    """Where one outbox delivery is: ``pending → dispatched → running → done``.

    A failed attempt goes ``running → retry → running``; giving up ends it ``dead``.
    """

    PENDING = "pending"
    """Written, not yet handed to the broker (or handed back after a failed publish)."""
    DISPATCHED = "dispatched"
    """Published; the lease says when to publish it again if nothing starts it."""
    RUNNING = "running"
    """A worker counted an attempt and is running the handler."""
    RETRY = "retry"
    """An attempt failed; a retry is scheduled."""
    DONE = "done"
    DEAD = "dead"
    WAITING = "waiting"
    """An ordered handler's delivery held behind an earlier one of its key still in flight;
    the earlier one's end makes it pending."""
    PARKED = "parked"
    """An ordered handler's delivery held behind a dead-lettered one of its key, until an
    operator re-drives or skips that head."""
    SKIPPED = "skipped"
    """A dead delivery an operator chose never to deliver, releasing the key behind it."""

    @classmethod
    def unfinished(cls) -> tuple["DeliveryStatus", ...]:
        """What a relay may claim and the backlog counts (held deliveries are neither)."""
        return (cls.PENDING, cls.DISPATCHED, cls.RUNNING, cls.RETRY)

    @classmethod
    def held(cls) -> tuple["DeliveryStatus", ...]:
        """Waiting behind an earlier delivery of the same ordered key."""
        return (cls.WAITING, cls.PARKED)

    @property
    def finished(self) -> bool:
        return self in (DeliveryStatus.DONE, DeliveryStatus.DEAD, DeliveryStatus.SKIPPED)

    @property
    def closed(self) -> bool:
        """Lets the next delivery of its ordered key go: applied, or skipped for good."""
        return self in (DeliveryStatus.DONE, DeliveryStatus.SKIPPED)


@dataclass(frozen=True)
class Attempt:
    """A delivery row as a worker's start found it: started (``stored_event`` set) or not."""

    number: int
    status: DeliveryStatus
    handler: str
    event_id: str
    """The row's own handler and event, which a message must name to start it."""
    applied_before: bool = False
    """The handler's receipt for this event already exists (another copy ran it)."""
    stored_event: object = None
    """The event as the store holds it, read with the start: what the handler runs on.
    The message's copy of the envelope is never run (a forged one must not be believed)."""
    behind: int | None = None
    """For an ordered handler: the id of an earlier delivery of the same key that is
    neither done nor skipped. The relay never publishes such a delivery; a started one
    that is behind must not run (the receiving end's own check of the order)."""


@dataclass(frozen=True)
class DeadLetter:
    """A delivery (or a message too broken to name one) that we give up on, and why."""

    error: BaseException
    attempts: int
    delivery_id: int | None
    handler: str | None
    body: Any
    """The message as received, kept for re-driving and inspection."""


class FinishDelivery(Protocol):
    def __call__(self, delivery_id: int, *, receipt: tuple[str, str] | None = None) -> None:
        """Mark the delivery done, with the handler's receipt ``(event_id, handler)`` if
        given, committed together: what an external handler records after calling out."""


class DeliveryLedger(Protocol):
    """The delivery rows, outside any handler's transaction.

    Methods that write commit at once; they raise ``StoreUnavailable`` when the
    database does not answer.
    """

    def start_attempt(
        self, delivery_id: int, handler: str, event_id: str, *, lease: timedelta
    ) -> Attempt | None:
        """Count one attempt and mark the delivery running, if it is unfinished and is
        ``handler``'s delivery of ``event_id``; read its stored event with it.

        Returns the attempt (not started when the row is finished or is another handler's
        or event's: compare ``handler`` and ``event_id``), or None when no such delivery
        exists. The lease keeps the relay from publishing it again meanwhile.
        """

    def applied_before(self, event_id: str, handler: str) -> bool:
        """Whether ``handler`` has a receipt for ``event_id`` (receipts outlive retention)."""

    def finish(self, delivery_id: int, *, receipt: tuple[str, str] | None = None) -> None:
        """See ``FinishDelivery``."""

    def release_next(self, delivery_id: int) -> None:
        """An ordered handler's delivery is done: let the next one of its key go now.

        Runs after the done commit, in a transaction of its own (so it sees a delivery a
        relay held back meanwhile); a relay's sweep repairs what a worker that died in
        between left held."""

    def hold(self, delivery_id: int) -> None:
        """A started delivery turned out to be behind an open one of its key: hold it
        again, unrun (waiting, or parked behind a dead one), for the relay to publish
        when its turn comes."""

    def schedule_retry(self, delivery_id: int, *, error: str, lease: timedelta) -> None: ...

    def dead_letter(self, dead: DeadLetter) -> int:
        """Record it in the dead-letter store, mark its delivery dead; returns the record id."""
