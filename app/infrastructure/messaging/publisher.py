"""Publish outbox deliveries as Celery tasks named ``handlers.<handler>``."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery

from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.infrastructure.messaging.celery_app import DEAD_LETTER_QUEUE, dead_letter_queue
from app.infrastructure.persistence.outbox import ClaimedDelivery

FAIL_FAST = {"max_retries": 0}

log = logging.getLogger(__name__)


class CeleryPublisher:
    def __init__(self, celery: Celery, *, native_dead_lettering: bool) -> None:
        self._celery = celery
        self._native_dead_lettering = native_dead_lettering

    @contextmanager
    def session(self, *, fail_fast: bool = False) -> Iterator["PublishSession"]:
        """One producer (one broker connection) for a whole batch."""
        with self._celery.producer_or_acquire() as producer:
            yield PublishSession(self._celery, producer, fail_fast)

    def copy_to_dead_letter_queue(self, handler: str | None, body: Any, reason: str) -> None:
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


class PublishSession:
    def __init__(self, celery: Celery, producer: Any, fail_fast: bool) -> None:
        self._celery = celery
        self._producer = producer
        self._retry_policy = FAIL_FAST if fail_fast else None

    def publish(self, delivery: ClaimedDelivery) -> None:
        """Returns only once the broker accepted the message (confirms on RabbitMQ)."""
        spec = HANDLERS_BY_NAME[delivery.handler]
        kwargs = {"delivery_id": delivery.delivery_id, "envelope": delivery.envelope.to_dict()}
        options: dict[str, Any] = {
            "queue": spec.queue,
            # Declared once per connection (kombu caches it): the queue and the DLX target.
            "declare": [self._celery.amqp.queues[spec.queue], dead_letter_queue()],
            "producer": self._producer,
            "headers": {"correlation_id": delivery.envelope.correlation_id},
        }
        if self._retry_policy is not None:
            options["retry_policy"] = self._retry_policy
        task = self._celery.tasks.get(spec.task_name)
        if task is not None:
            task.apply_async(kwargs=kwargs, **options)
        else:
            self._celery.send_task(spec.task_name, kwargs=kwargs, **options)
