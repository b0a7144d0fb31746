"""One Flask app and one Celery app per worker/beat/flower process, built by ``bootstrap``."""

from functools import cache
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_process_init
from flask import Flask

from app.bootstrap import bootstrap
from app.container import container_of
from tasks import log_context, metrics
from tasks.registration import register_tasks
from tasks.signals import install_dead_letter_signals


@cache
def build_worker() -> tuple[Flask, Celery]:
    """The process's container with the Celery side installed on it: tasks, signals, metrics."""
    container = bootstrap()
    flask_app, celery = container.flask_app, container.celery
    register_tasks(celery)
    install_dead_letter_signals(flask_app)
    celery.conf.worker_consumer = "tasks.consumer:DeadLetteringConsumer"
    metrics.install()
    log_context.install(container.settings)
    return flask_app, celery


def build_worker_celery() -> Celery:
    return build_worker()[1]


@worker_process_init.connect
def _fresh_connections_after_fork(**_: object) -> None:
    """A forked pool child must not reuse the parent's pooled database connections."""
    flask_app, _celery = build_worker()
    container_of(flask_app).engine.dispose(close=False)


@beat_init.connect
def _no_sent_events_from_beat(sender: Any, **_: object) -> None:
    """Beat publishes only maintenance tasks; a 'task-sent' event each second buries the
    handler tasks in Flower."""
    sender.app.conf.task_send_sent_event = False
