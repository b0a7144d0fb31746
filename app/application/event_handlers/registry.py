"""The one explicit list of event handlers.

A handler's ``name`` is its stable identity: the Celery task name (``handlers.<name>``),
the idempotency key and the metric label. Renaming one orphans its pending deliveries.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.application.event_handlers import integrations, notifications, projections, reactions
from app.application.messages import EventMessage
from app.application.ports import Outbound, UnitOfWork
from app.domain.events import EVENT_CLASSES, OrderEvent, UserEvent

TransactionalHandler = Callable[[EventMessage, UnitOfWork], None]
ExternalHandler = Callable[[EventMessage, Outbound, str], None]

ORDER_EVENTS = frozenset(t for t, c in EVENT_CLASSES.items() if issubclass(c, OrderEvent))
USER_EVENTS = frozenset(t for t, c in EVENT_CLASSES.items() if issubclass(c, UserEvent))
ALL_EVENTS = frozenset(EVENT_CLASSES)


@dataclass(frozen=True)
class HandlerSpec:
    """One subscriber. Exactly one of ``transactional`` / ``external`` is set.

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

    @property
    def task_name(self) -> str:
        return f"handlers.{self.name}"


def _ext(
    name: str,
    types: Iterable[str],
    fn: ExternalHandler,
    queue: str,
    max_attempts: int | None = None,
) -> HandlerSpec:
    return HandlerSpec(name, frozenset(types), queue, external=fn, max_attempts=max_attempts)


def _db(name: str, types: Iterable[str], fn: TransactionalHandler, queue: str) -> HandlerSpec:
    return HandlerSpec(name, frozenset(types), queue, transactional=fn)


HANDLERS: tuple[HandlerSpec, ...] = (
    _db("project_order_summary", ORDER_EVENTS, projections.project_order_summary, "projections"),
    _db("project_user_profile", USER_EVENTS, projections.project_user_profile, "projections"),
    _db(
        "award_loyalty_points",
        {"order.payment_processed"},
        reactions.award_loyalty_points,
        "reactions",
    ),
    _db("revoke_loyalty_points", {"order.cancelled"}, reactions.revoke_loyalty_points, "reactions"),
    _ext(
        "send_welcome_email", {"user.registered"}, notifications.send_welcome_email, "notifications"
    ),
    _ext(
        "send_order_confirmation",
        {"order.created"},
        notifications.send_order_confirmation,
        "notifications",
    ),
    _ext(
        "send_payment_receipt",
        {"order.payment_processed"},
        notifications.send_payment_receipt,
        "notifications",
    ),
    _ext(
        "send_shipping_notice",
        {"order.shipped"},
        notifications.send_shipping_notice,
        "notifications",
    ),
    _ext(
        "send_cancellation_notice",
        {"order.cancelled"},
        notifications.send_cancellation_notice,
        "notifications",
    ),
    _ext(
        "notify_sales_channel",
        {"order.created"},
        notifications.notify_sales_channel,
        "notifications",
        max_attempts=3,  # a sales-channel ping that is hours late is noise, not news
    ),
    _ext("forward_to_webhooks", ALL_EVENTS, integrations.forward_to_webhooks, "integrations"),
)

HANDLERS_BY_NAME: dict[str, HandlerSpec] = {spec.name: spec for spec in HANDLERS}
HANDLER_QUEUES: tuple[str, ...] = tuple(sorted({spec.queue for spec in HANDLERS}))


def subscribers(event_type: str) -> list[str]:
    """Names of the handlers that get one delivery of an event of this type."""
    return [spec.name for spec in HANDLERS if event_type in spec.event_types]
