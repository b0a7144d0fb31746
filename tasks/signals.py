"""Messages the worker cannot hand to any task still end up in the dead-letter store."""

from typing import Any

from celery.signals import task_rejected, task_unknown, worker_ready
from flask import Flask

from app.application.errors import CorruptMessage
from app.container import container_of


def _body(message: Any) -> Any:
    try:
        return message.decode()
    except Exception:
        return repr(getattr(message, "body", message))[:2000]


def install_dead_letter_signals(flask_app: Flask) -> None:
    container = container_of(flask_app)

    @worker_ready.connect(weak=False)
    def _declare_dead_letter_queue(**_: Any) -> None:
        container.publisher.declare_dead_letter_queue()

    @task_unknown.connect(weak=False)
    def _unknown_task(name: str | None = None, message: Any = None, **_: Any) -> None:
        with flask_app.app_context():
            container.runner.dead_letter_unroutable(
                CorruptMessage(f"no task named {name!r} is registered"), name, _body(message)
            )

    @task_rejected.connect(weak=False)
    def _rejected(message: Any = None, exc: BaseException | None = None, **_: Any) -> None:
        with flask_app.app_context():
            container.runner.dead_letter_unroutable(
                CorruptMessage(
                    f"the worker rejected an invalid task message: {exc}"
                    if exc is not None
                    else "the message names no task (not a Celery task message)"
                ),
                None,
                _body(message),
            )
