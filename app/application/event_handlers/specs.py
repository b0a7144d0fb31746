"""What a handler module declares about each of its handlers: a ``HandlerSpec``.

Each handler module ends with its own ``HANDLERS`` tuple built with ``external_handler``
or ``database_handler``; ``registry.py`` joins those tuples into the one explicit list.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from app.application.messages import EventMessage
from app.application.ports import Outbound, UnitOfWork
from app.domain.events import EVENT_CLASSES, OrderEvent, UserEvent

TransactionalHandler = Callable[[EventMessage, UnitOfWork], None]
ExternalHandler = Callable[[EventMessage, Outbound, str], None]

ORDER_EVENTS = frozenset(t for t, c in EVENT_CLASSES.items() if issubclass(c, OrderEvent))
USER_EVENTS = frozenset(t for t, c in EVENT_CLASSES.items() if issubclass(c, UserEvent))
ALL_EVENTS = frozenset(EVENT_CLASSES)


class StoredEvent(Protocol):
    """What an order key is computed from: the stored event's envelope fields."""

    @property
    def event_type(self) -> str: ...
    @property
    def aggregate_type(self) -> str: ...
    @property
    def aggregate_id(self) -> str: ...


OrderKey = Callable[[StoredEvent], str]
"""Which deliveries of an ordered handler go one at a time, in the event store's order.

A key must only group events whose transactions the store serialises, as one aggregate's
are (a second writer of an aggregate version waits for, then loses to, the first): of two
concurrent transactions, the one that committed later could otherwise hold the earlier
position. At most 200 characters."""


def by_aggregate(event: StoredEvent) -> str:
    """The default order key: the aggregate the event belongs to."""
    return f"{event.aggregate_type}:{event.aggregate_id}"


@dataclass(frozen=True)
class HandlerSpec:
    """One subscriber. Exactly one of ``transactional`` / ``external`` is set.

    ``name`` is the handler's stable identity: the Celery task name (``handlers.<name>``),
    the idempotency key and the metric label. Renaming one orphans its pending deliveries.

    Transactional handlers write only to our database, inside the same transaction as
    their receipt, so their effect happens exactly once. External handlers call the
    outside world first and record the receipt afterwards: at least once, same key.
    """

    name: str
    event_types: frozenset[str]
    queue: str
    transactional: TransactionalHandler | None = None
    external: ExternalHandler | None = None
    max_attempts: int | None = None
    """Give up sooner than OUTBOX_MAX_ATTEMPTS (which stays the ceiling); None: no sooner."""
    ordered_by: OrderKey | None = None
    """Ordered delivery: one delivery per key in flight at a time, in the store's order; a
    dead-lettered one parks the rest of its key until it is re-driven or skipped.
    None: unordered (deliveries run as they come, concurrently)."""
    requires: tuple[str, ...] = ()
    """Settings, by their environment names (``WEBHOOK_URLS``), that must all be set for the
    handler to be subscribed. Without one, commands write no deliveries for it (see
    ``subscriptions``); deliveries written before still run. Name only a setting whose
    absence leaves the handler nothing to do, not one whose absence has a stand-in."""

    @property
    def task_name(self) -> str:
        return f"handlers.{self.name}"

    @property
    def ordered(self) -> bool:
        return self.ordered_by is not None

    @property
    def effect(self) -> str:
        """``exactly-once`` (transactional) or ``at-least-once`` (external)."""
        return "exactly-once" if self.transactional is not None else "at-least-once"


def external_handler(
    name: str,
    types: Iterable[str],
    fn: ExternalHandler,
    queue: str,
    max_attempts: int | None = None,
    ordered_by: OrderKey | None = None,
    requires: Iterable[str] = (),
) -> HandlerSpec:
    """A handler that talks to the outside world: at least once, passing the key on."""
    return HandlerSpec(
        name,
        frozenset(types),
        queue,
        external=fn,
        max_attempts=max_attempts,
        ordered_by=ordered_by,
        requires=tuple(requires),
    )


def database_handler(
    name: str,
    types: Iterable[str],
    fn: TransactionalHandler,
    queue: str,
    ordered_by: OrderKey | None = None,
) -> HandlerSpec:
    """A handler that only writes our database: exactly once, in its receipt's transaction."""
    return HandlerSpec(name, frozenset(types), queue, transactional=fn, ordered_by=ordered_by)
