"""The Celery app: one per process, configured from Settings over ``celeryconfig``."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cache
from typing import Any

from celery import Celery, Task
from kombu.entity import Exchange, Queue

from app.application.event_handlers.registry import HANDLER_QUEUES
from app.config import Settings
from app.infrastructure.messaging import redis_transport

RELAY_QUEUE = "outbox"
DEAD_LETTER_QUEUE = "dead_letter"
DEAD_LETTER_EXCHANGE = "dead_letter"
REDIS_VISIBILITY_TIMEOUT = 3600


def _queues() -> list[Queue]:
    """Handler queues dead-letter into ``dead_letter`` on RabbitMQ (ignored on Redis).

    Queue arguments cannot change once a queue is declared: change them with a new name.
    """
    dead_letter_args = {
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
    }
    handler_queues = [
        Queue(
            name, Exchange(name, type="direct"), routing_key=name, queue_arguments=dead_letter_args
        )
        for name in HANDLER_QUEUES
    ]
    return [
        Queue(RELAY_QUEUE, Exchange(RELAY_QUEUE, type="direct"), routing_key=RELAY_QUEUE),
        *handler_queues,
        Queue(
            DEAD_LETTER_QUEUE,
            Exchange(DEAD_LETTER_EXCHANGE, type="direct"),
            routing_key=DEAD_LETTER_QUEUE,
        ),
    ]


def _transport_options(settings: Settings) -> dict[str, Any]:
    if settings.celery_broker_url.startswith(("redis", "rediss", "valkey")):
        options: dict[str, Any] = {
            "visibility_timeout": REDIS_VISIBILITY_TIMEOUT,
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
        }
        if settings.broker_key_prefix:
            options["global_keyprefix"] = settings.broker_key_prefix
        return options
    if settings.celery_broker_url.startswith(("amqp", "pyamqp")):
        return {"confirm_publish": True}
    return {}


def build_celery(
    settings: Settings, task_context: Callable[[], AbstractContextManager[Any]]
) -> Celery:
    """Every task runs inside ``task_context()`` (the process's Flask app context).

    ``celeryconfig`` holds the delivery baseline; everything a deployment sets comes from
    ``settings``. Nothing connects until the first publish or the worker's start.
    """

    class ContextTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with task_context():
                return self.run(*args, **kwargs)

    redis_transport.install()
    celery = Celery("outboxflow", task_cls=ContextTask)
    celery.config_from_object("celeryconfig")
    celery.conf.update(
        broker_url=settings.celery_broker_url,
        result_backend=settings.celery_result_backend or None,
        broker_transport_options=_transport_options(settings),
        task_queues=_queues(),
        task_always_eager=settings.task_always_eager,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        beat_schedule={
            "outbox-relay": {
                "task": "outbox.relay",
                "schedule": settings.outbox_relay_interval,
                "options": {
                    "queue": RELAY_QUEUE,
                    "expires": max(5.0, settings.outbox_relay_interval * 5),
                },
            },
            "outbox-retention": {
                "task": "outbox.purge_done",
                "schedule": settings.outbox_retention_interval,
                "options": {"queue": RELAY_QUEUE, "expires": settings.outbox_retention_interval},
            },
        },
        beat_schedule_filename=str(settings.instance_dir / "celerybeat-schedule"),
    )
    celery.set_default()
    return celery


@cache
def dead_letter_queue() -> Queue:
    """One object for the process, so kombu's declare-once cache recognises it."""
    return next(q for q in _queues() if q.name == DEAD_LETTER_QUEUE)


def declare_dead_letter_queue(celery: Celery) -> None:
    """Declare ``dead_letter`` (and its exchange) so the broker has somewhere to route to.

    Workers never consume it, so nothing else would declare it; without it RabbitMQ
    silently drops what the handler queues dead-letter. Publishers declare it too (see
    the relay's publisher), so it comes back after the broker forgot its queues.
    """
    with celery.connection_for_write() as connection:
        dead_letter_queue().bind(connection.default_channel).declare()
