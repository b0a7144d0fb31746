"""One Flask app and one Celery app per worker/beat/flower process."""

from functools import cache
from typing import cast

from celery import Celery
from celery.signals import worker_process_init
from flask import Flask

from app import create_app
from app.container import Container
from tasks import metrics, quiet_relay_logs
from tasks.registration import register_tasks
from tasks.signals import install_dead_letter_signals


@cache
def build_worker() -> tuple[Flask, Celery]:
    flask_app = create_app()
    celery: Celery = flask_app.extensions["celery"]
    register_tasks(celery)
    install_dead_letter_signals(flask_app)
    celery.conf.worker_consumer = "tasks.consumer:DeadLetteringConsumer"
    quiet_relay_logs.install()
    metrics.install()
    return flask_app, celery


def build_worker_celery() -> Celery:
    return build_worker()[1]


@worker_process_init.connect
def _fresh_connections_after_fork(**_: object) -> None:
    """A forked pool child must not reuse the parent's pooled database connections."""
    flask_app, _celery = build_worker()
    cast(Container, flask_app.extensions["outboxflow"]).engine.dispose(close=False)
