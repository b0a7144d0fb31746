"""Delivery metrics, recorded by the handler tasks, and the worker's metrics exporter.

The pool processes write to ``PROMETHEUS_MULTIPROC_DIR`` (see ``app.infrastructure.metrics``);
the worker's main process empties that directory at start, before it forks, and serves
the sum of its children's files on ``WORKER_METRICS_LISTEN``. Recording one delivery costs
a clock read, one counter and two histogram updates in shared memory: no I/O.
"""

import logging
import os
from datetime import UTC, datetime
from typing import Any

from celery.signals import worker_init, worker_process_shutdown
from prometheus_client import Counter, Histogram

from app.application.deliveries import DeadLettered, Outcome, RetryLater
from app.container import container_of

log = logging.getLogger(__name__)

DONE, RETRIED, DEAD = "done", "retried", "dead"

DELIVERIES = Counter(
    "outboxflow_deliveries",
    "Handler task runs by outcome: done (applied or a duplicate), retried, dead.",
    ["handler", "outcome"],
)
DELIVERY_DURATION = Histogram(
    "outboxflow_delivery_duration_seconds",
    "Time one handler task takes, attempt bookkeeping included.",
    ["handler"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
COMMIT_TO_HANDLER = Histogram(
    "outboxflow_commit_to_handler_seconds",
    "Time from the event's commit (its occurred_at) to the first start of a handler task.",
    ["handler"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
)


def outcome_label(outcome: Outcome) -> str:
    if isinstance(outcome, RetryLater):
        return RETRIED
    if isinstance(outcome, DeadLettered):
        return DEAD
    return DONE


def observe_handler_start(handler: str, envelope: Any) -> None:
    """The lag from commit to this handler; a malformed envelope is the runner's business."""
    occurred_at = envelope.get("occurred_at") if isinstance(envelope, dict) else None
    if not isinstance(occurred_at, str):
        return
    try:
        moment = datetime.fromisoformat(occurred_at)
    except ValueError:
        return
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    lag = (datetime.now(UTC) - moment).total_seconds()
    COMMIT_TO_HANDLER.labels(handler).observe(max(0.0, lag))


def observe_delivery(handler: str, outcome: Outcome, seconds: float) -> None:
    DELIVERIES.labels(handler, outcome_label(outcome)).inc()
    DELIVERY_DURATION.labels(handler).observe(seconds)


def install() -> None:
    """Connect the exporter to the worker's start and the bookkeeping to each child's exit."""

    @worker_init.connect(weak=False)
    def _serve_metrics(**_: Any) -> None:
        """Metrics must never stop deliveries: a worker whose exporter fails runs on without it."""
        from tasks.worker_app import build_worker

        flask_app, _celery = build_worker()
        container = container_of(flask_app)
        listen = container.settings.worker_metrics_listen
        try:
            container.metrics.serve(listen)
        except (RuntimeError, ValueError, OSError) as exc:
            log.error("worker metrics exporter not started on %r: %s", listen, exc)

    @worker_process_shutdown.connect(weak=False)
    def _pool_process_exits(**_: Any) -> None:
        from tasks.worker_app import build_worker

        container_of(build_worker()[0]).metrics.mark_process_dead(os.getpid())
