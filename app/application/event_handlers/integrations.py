"""Integrations: every event, as its JSON envelope, to each configured webhook."""

from app.application.event_handlers.specs import ALL_EVENTS, HandlerSpec, external_handler
from app.application.messages import EventMessage
from app.application.ports import Outbound


def forward_to_webhooks(message: EventMessage, out: Outbound, key: str) -> None:
    out.webhooks.post_event(message, idempotency_key=key)


HANDLERS: tuple[HandlerSpec, ...] = (
    external_handler("forward_to_webhooks", ALL_EVENTS, forward_to_webhooks, "integrations"),
)
