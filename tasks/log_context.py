"""Worker and beat logs: JSON lines when LOG_FORMAT says so, carrying the ids of the task at hand.

Celery sets up logging itself (after the app is built), so the JSON formatter is applied in
its ``after_setup_*logger`` signals, and the worker's text banner is switched off. Each
handler task binds the message context its envelope carries (``correlation_id``,
``causation_id``), the envelope's ``event_id``, and its ``handler`` and ``delivery_id`` for
the records logged while it runs. Maintenance tasks run often, so they are logged only
when they fail.
"""

import logging
from typing import Any

from celery import Task
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    celeryd_after_setup,
    task_postrun,
    task_prerun,
)

from app import logs
from app.application.event_handlers.registry import HANDLERS
from app.application.maintenance_tasks import RELAY_TASK, RETENTION_TASK
from app.application.messages import MessageContext
from app.config import Settings

HANDLER_BY_TASK = {spec.task_name: spec.name for spec in HANDLERS}
MAINTENANCE_TASKS = frozenset({RELAY_TASK, RETENTION_TASK})
CELERY_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def install(settings: Settings) -> None:
    """Connect the signals for this process (once: ``build_worker`` is cached)."""
    if settings.json_logs:
        after_setup_logger.connect(_json_handlers, weak=False)
        after_setup_task_logger.connect(_json_handlers, weak=False)
        celeryd_after_setup.connect(_no_banner, weak=False)
    task_prerun.connect(_bind_task, weak=False)
    task_postrun.connect(_unbind_task, weak=False)
    for name in CELERY_TASK_LOGGERS:
        logging.getLogger(name).addFilter(DropMaintenanceChatter())


class DropMaintenanceChatter(logging.Filter):
    """Drops Celery's 'received' / 'succeeded' lines for maintenance tasks (not failures)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, dict) or args.get("name") not in MAINTENANCE_TASKS:
            return True
        return record.levelno > logging.INFO


def _json_handlers(logger: Any = None, **_: Any) -> None:
    if logger is not None:
        logs.use_json(logger.handlers)


def _no_banner(instance: Any = None, **_: Any) -> None:
    """The worker prints a multi-line text banner to stdout; JSON logs have no place for it."""
    if instance is not None:
        instance.quiet = True


def bind_task_ids(task: Task, kwargs: Any) -> None:
    """Bind the ids a task's message names; anything missing or malformed is left out."""
    kwargs = kwargs if isinstance(kwargs, dict) else {}
    envelope = kwargs.get("envelope")
    ids: dict[str, Any] = {}
    event_id = envelope.get("event_id") if isinstance(envelope, dict) else None
    if isinstance(event_id, str):
        ids["event_id"] = event_id
    delivery_id = kwargs.get("delivery_id")
    if isinstance(delivery_id, int) and not isinstance(delivery_id, bool):
        ids["delivery_id"] = delivery_id
    handler = HANDLER_BY_TASK.get(getattr(task, "name", None) or "")
    if handler:
        ids["handler"] = handler
    logs.bind(MessageContext.named_in(envelope), **ids)


def _bind_task(task: Task | None = None, kwargs: Any = None, **_: Any) -> None:
    if task is None:
        logs.clear()
    else:
        bind_task_ids(task, kwargs)


def _unbind_task(**_: Any) -> None:
    logs.clear()
