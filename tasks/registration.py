"""Task definitions: one thin task per event handler, the relay, and outbox retention.

Task names are wire names (``handlers.<handler>``, ``outbox.relay``), never module paths.
"""

import logging
import time
from datetime import timedelta
from typing import Any

from celery import Celery, Task
from celery.exceptions import Reject

from app.application.deliveries import DeadLettered, RetryLater
from app.application.event_handlers.registry import HANDLERS
from app.application.event_handlers.specs import HandlerSpec
from app.container import container_of
from app.infrastructure.messaging.celery_app import (
    BACKFILL_SOFT_TIME_LIMIT,
    BACKFILL_TASK,
    BACKFILL_TIME_LIMIT,
    RELAY_QUEUE,
)
from app.infrastructure.persistence import retention
from tasks import metrics

RELAY_TASK = "outbox.relay"
RETENTION_TASK = "outbox.purge_done"
RETENTION_BATCH = 1000
"""Done deliveries deleted per short transaction."""

log = logging.getLogger(__name__)


def _handler_task(celery: Celery, spec: HandlerSpec) -> Task:
    @celery.task(name=spec.task_name, bind=True, queue=spec.queue, max_retries=None)
    def run_handler(self: Task, *args: Any, **kwargs: Any) -> bool:
        """Accepts any arguments so a malformed message is dead-lettered, not crashed on."""
        delivery_id, envelope = kwargs.get("delivery_id"), kwargs.get("envelope")
        started = time.perf_counter()
        if not self.request.retries:
            metrics.observe_handler_start(spec.name, envelope)
        outcome = container_of().runner.run(spec.name, delivery_id, envelope)
        metrics.observe_delivery(spec.name, outcome, time.perf_counter() - started)
        if isinstance(outcome, RetryLater):
            raise self.retry(exc=outcome.error, countdown=outcome.countdown)
        if isinstance(outcome, DeadLettered):
            raise Reject(outcome.reason, requeue=False)
        return outcome.applied

    return run_handler


def register_tasks(celery: Celery) -> None:
    """Define every task on ``celery``; safe to call more than once."""
    if RELAY_TASK in celery.tasks:
        return

    # Maintenance tasks send no task events (they would bury the handler tasks in Flower,
    # one relay run a second) and log only when they did something.
    @celery.task(name=RELAY_TASK, queue=RELAY_QUEUE, send_events=False)
    def relay_outbox() -> dict[str, int]:
        report = container_of().relay.safety_net_sweep()
        report.log(log)
        return {"claimed": report.claimed, "published": report.published, "failed": report.failed}

    @celery.task(name=RETENTION_TASK, queue=RELAY_QUEUE, send_events=False)
    def purge_done_deliveries() -> int:
        container = container_of()
        container.idempotency_keys.purge_expired()
        return retention.purge_done_deliveries(
            container.engine,
            timedelta(hours=container.settings.outbox_retention_hours),
            RETENTION_BATCH,
        )

    # A backfill resumes after its worker died (late ack: the message comes back), and
    # is never retried otherwise: its run records why it failed.
    @celery.task(
        name=BACKFILL_TASK,
        queue=RELAY_QUEUE,
        soft_time_limit=BACKFILL_SOFT_TIME_LIMIT,
        time_limit=BACKFILL_TIME_LIMIT,
    )
    def backfill_handler(run_id: int) -> str | None:
        run = container_of().backfills.execute(run_id)
        return None if run is None else str(run["state"])

    for spec in HANDLERS:
        _handler_task(celery, spec)
