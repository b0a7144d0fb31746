"""Applying one outbox delivery: run its handler once and record it as done."""

from collections.abc import Callable
from dataclasses import dataclass, field

from app.application.event_handlers.registry import HandlerSpec
from app.application.messages import EventMessage
from app.application.ports import Outbound, UnitOfWork


def idempotency_key(event_id: str, handler: str) -> str:
    """Stable across retries and redeliveries: what external receivers deduplicate on."""
    return f"{event_id}:{handler}"


@dataclass
class DeliveryOutcome:
    applied: bool
    new_delivery_ids: list[int] = field(default_factory=list)
    """Deliveries of events the handler caused (reactions), to publish right away."""


def apply_delivery(
    spec: HandlerSpec,
    message: EventMessage,
    delivery_id: int,
    uow_factory: Callable[[], UnitOfWork],
    outbound: Outbound,
) -> DeliveryOutcome:
    """Run the handler for one delivery; ``applied`` is False when it already had been.

    Raises whatever the handler raises; the caller decides between retry and dead letter.
    """
    event_id = message.event.event_id
    if spec.transactional is not None:
        with uow_factory() as uow:
            uow.context = message.caused_context()
            if not uow.receipts.claim(event_id, spec.name):
                uow.receipts.mark_delivery_done(delivery_id)
                uow.commit()
                return DeliveryOutcome(applied=False)
            spec.transactional(message, uow)
            uow.receipts.mark_delivery_done(delivery_id)
            uow.commit()
        return DeliveryOutcome(applied=True, new_delivery_ids=uow.committed_delivery_ids)

    assert spec.external is not None
    with uow_factory() as uow:
        if uow.receipts.already_applied(event_id, spec.name):
            uow.receipts.mark_delivery_done(delivery_id)
            uow.commit()
            return DeliveryOutcome(applied=False)
    spec.external(message, outbound, idempotency_key(event_id, spec.name))
    with uow_factory() as uow:
        uow.receipts.claim(event_id, spec.name)
        uow.receipts.mark_delivery_done(delivery_id)
        uow.commit()
    return DeliveryOutcome(applied=True)
