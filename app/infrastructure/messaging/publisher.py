"""Publish outbox deliveries as Celery tasks named ``handlers.<handler>``."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery

from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.infrastructure.persistence.outbox import ClaimedDelivery

FAIL_FAST = {"max_retries": 0}


class CeleryPublisher:
    def __init__(self, celery: Celery) -> None:
        self._celery = celery

    @contextmanager
    def session(self, *, fail_fast: bool = False) -> Iterator["PublishSession"]:
        """One producer (one broker connection) for a whole batch."""
        with self._celery.producer_or_acquire() as producer:
            yield PublishSession(self._celery, producer, fail_fast)


class PublishSession:
    def __init__(self, celery: Celery, producer: Any, fail_fast: bool) -> None:
        self._celery = celery
        self._producer = producer
        self._retry_policy = FAIL_FAST if fail_fast else None

    def publish(self, delivery: ClaimedDelivery) -> None:
        """Returns only once the broker accepted the message (confirms on RabbitMQ)."""
        spec = HANDLERS_BY_NAME.get(delivery.handler)
        if spec is None:
            raise LookupError(f"no handler named {delivery.handler!r} is registered")
        kwargs = {"delivery_id": delivery.delivery_id, "envelope": delivery.envelope.to_dict()}
        options: dict[str, Any] = {
            "queue": spec.queue,
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
