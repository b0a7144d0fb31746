"""Task definitions: one thin task per event handler, plus the relay.

Task names are wire names (``handlers.<handler>``, ``outbox.relay``), never module paths.
"""

from typing import Any, cast

from celery import Celery, Task
from flask import current_app

from app.application.event_handlers.registry import HANDLERS, HandlerSpec
from app.container import Container

RELAY_TASK = "outbox.relay"


def _container() -> Container:
    return cast(Container, current_app.extensions["outboxflow"])


def _handler_task(celery: Celery, spec: HandlerSpec) -> Task:
    @celery.task(name=spec.task_name, bind=True, queue=spec.queue)
    def run_handler(self: Task, delivery_id: int, envelope: dict[str, Any]) -> bool:
        return _container().apply(spec.name, delivery_id, envelope)

    return run_handler


def register_tasks(celery: Celery) -> None:
    """Define every task on ``celery``; safe to call more than once."""
    if RELAY_TASK in celery.tasks:
        return

    @celery.task(name=RELAY_TASK, queue="outbox", ignore_result=True)
    def relay_outbox() -> dict[str, int]:
        report = _container().relay.sweep()
        return {"claimed": report.claimed, "published": report.published, "failed": report.failed}

    for spec in HANDLERS:
        _handler_task(celery, spec)
