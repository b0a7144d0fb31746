"""Publish outbox deliveries as Celery tasks named ``handlers.<handler>``, a batch at a time."""

import logging
from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu.common import maybe_declare

from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.infrastructure.messaging.celery_app import (
    DEAD_LETTER_QUEUE,
    dead_letter_queue,
    declare_dead_letter_queue,
)
from app.infrastructure.messaging.confirms import confirmed_once, uses_confirms
from app.infrastructure.persistence.outbox import ClaimedDelivery

FAIL_FAST = {"max_retries": 0}
BATCH_OPERATIONS = 1000
"""Redis commands buffered before the pipeline is sent (a message may need a few)."""

log = logging.getLogger(__name__)


class CeleryPublisher:
    def __init__(self, celery: Celery, *, native_dead_lettering: bool) -> None:
        self._celery = celery
        self._native_dead_lettering = native_dead_lettering

    def publish(self, deliveries: Sequence[ClaimedDelivery], *, fail_fast: bool) -> list[int]:
        """Publish a batch over one pooled producer; returns the ids the broker accepted.

        On Redis the whole batch is one pipelined round trip; on RabbitMQ the messages go
        out without waiting and the publisher confirms are awaited once, at the end. Either
        way a batch is accepted or uncertain as a whole. What is not returned was not
        (surely) published, and goes back to the relay.
        """
        published: list[int] = []
        try:
            with self._celery.producer_or_acquire() as producer:
                self._declare_queues(producer.channel, deliveries)
                if uses_confirms(producer):
                    with confirmed_once(producer) as batch_producer:
                        for delivery in deliveries:
                            self._publish_one(batch_producer, delivery, fail_fast)
                    published = [d.delivery_id for d in deliveries]
                elif producer.supports_batch_publish:
                    with producer.batch(max_size=BATCH_OPERATIONS):
                        for delivery in deliveries:
                            self._publish_one(producer, delivery, fail_fast)
                    published = [d.delivery_id for d in deliveries]
                else:
                    for delivery in deliveries:
                        self._publish_one(producer, delivery, fail_fast)
                        published.append(delivery.delivery_id)
        except Exception as exc:
            log.warning(
                "publishing stopped with %d of %d deliveries surely published: %s",
                len(published),
                len(deliveries),
                exc,
            )
        return published

    def _declare_queues(self, channel: Any, deliveries: Sequence[ClaimedDelivery]) -> None:
        """The batch's queues and the dead-letter target, once per batch.

        kombu remembers per connection what it declared, so this is a broker round trip
        only on a new connection (after a broker restart, say: the queues come back).
        """
        names = sorted({HANDLERS_BY_NAME[d.handler].queue for d in deliveries})
        entities = [self._celery.amqp.queues[name] for name in names]
        if entities:
            entities.append(dead_letter_queue(self._celery))
        declared = channel.connection.client.declared_entities
        for entity in entities:
            # kombu checks its cache only after copying the entity: ask it first.
            if hash(entity) not in declared:
                maybe_declare(entity, channel)

    def _publish_one(self, producer: Any, delivery: ClaimedDelivery, fail_fast: bool) -> None:
        spec = HANDLERS_BY_NAME[delivery.handler]
        envelope = delivery.envelope
        kwargs = {"delivery_id": delivery.delivery_id, "envelope": envelope.to_dict()}
        options: dict[str, Any] = {
            "queue": spec.queue,
            "producer": producer,
            "headers": {"correlation_id": envelope.correlation_id},
            # What Flower shows for the task; Celery would otherwise build a repr of the
            # whole envelope for every message, a large share of the publishing cost.
            "argsrepr": "()",
            "kwargsrepr": (
                f"{{'delivery_id': {delivery.delivery_id}, 'event_type': "
                f"'{envelope.event_type}', 'event_id': '{envelope.event_id}', "
                f"'aggregate_id': '{envelope.aggregate_id}'}}"
            ),
        }
        if fail_fast:
            options["retry_policy"] = FAIL_FAST
        task = self._celery.tasks.get(spec.task_name)
        if task is not None:
            task.apply_async(kwargs=kwargs, **options)
        else:
            self._celery.send_task(spec.task_name, kwargs=kwargs, **options)

    def declare_dead_letter_queue(self) -> None:
        """See ``celery_app.declare_dead_letter_queue``: what a worker does when it is ready."""
        declare_dead_letter_queue(self._celery)

    def copy_to_dead_letter_queue(self, handler: str | None, body: object, reason: str) -> None:
        """Redis has no dead-letter exchange: re-publish a copy to ``dead_letter`` ourselves.

        On RabbitMQ the handler queues' dead-letter exchange does this when the task rejects
        the message, so nothing is published here. Best effort: the database record is the
        source of truth.
        """
        if self._native_dead_lettering or self._celery.conf.task_always_eager:
            return
        try:
            self._celery.send_task(
                f"handlers.{handler or 'unknown'}",
                kwargs=body if isinstance(body, dict) else {"body": repr(body)},
                queue=DEAD_LETTER_QUEUE,
                headers={"x-dead-letter-reason": reason[:1000]},
                retry_policy=FAIL_FAST,
            )
        except Exception:
            log.warning(
                "could not copy a dead letter to the %s queue", DEAD_LETTER_QUEUE, exc_info=True
            )
