"""Integrations: every event, as its JSON envelope, to each configured webhook.

Ordered by aggregate: a partner receives an order's events in the order they happened,
one at a time (``order.paid`` is accepted before ``order.shipped`` is sent), and a refused
one holds back the rest of that order until an operator re-drives or skips it.

Subscribed only when ``WEBHOOK_URLS`` is set: with no receiver there is no one to forward to.
"""

from app.application.event_handlers.specs import (
    ALL_EVENTS,
    HandlerSpec,
    by_aggregate,
    external_handler,
)
from app.application.messages import EventMessage
from app.application.ports import Outbound


def forward_to_webhooks(message: EventMessage, out: Outbound, key: str) -> None:
    out.webhooks.post_event(message, idempotency_key=key)


HANDLERS: tuple[HandlerSpec, ...] = (
    external_handler(
        "forward_to_webhooks",
        ALL_EVENTS,
        forward_to_webhooks,
        "integrations",
        ordered_by=by_aggregate,
        requires=("WEBHOOK_URLS",),
    ),
)
