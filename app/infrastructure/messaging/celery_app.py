"""The Celery app: one per process, configured from Settings over ``celeryconfig``."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from celery import Celery, Task
from kombu.entity import Exchange, Queue

from app.application.event_handlers.registry import HANDLER_QUEUES
from app.config import Settings
from app.infrastructure.messaging import redis_transport
from app.infrastructure.messaging.broker_kind import is_amqp, is_redis, is_sentinel

RELAY_QUEUE = "outbox"
DEAD_LETTER_QUEUE = "dead_letter"
DEAD_LETTER_EXCHANGE = "dead_letter"
REDIS_VISIBILITY_TIMEOUT = 3600
BACKFILL_TASK = "outbox.backfill"
"""A handler's recorded backfill (``backfills.Backfills``), on ``RELAY_QUEUE``: every worker
the Procfile and docker-compose start consumes it."""
RABBITMQ_CONSUMER_TIMEOUT = 1800
"""RabbitMQ's default ``consumer_timeout``: it closes the channel of a delivery left
unacknowledged longer, and hands the message to another consumer."""
BACKFILL_TIME_LIMIT = min(REDIS_VISIBILITY_TIMEOUT, RABBITMQ_CONSUMER_TIMEOUT) - 300
BACKFILL_SOFT_TIME_LIMIT = BACKFILL_TIME_LIMIT - 60
"""A backfill walks the whole store, so it has limits of its own, below what either broker
waits for an acknowledgement (tasks ack late): a broker never hands a backfill still
running to a second worker. A run stopped at the soft limit is failed, saying so."""
QUORUM = "quorum"
REJECT_PUBLISH = {"x-overflow": "reject-publish"}
"""What at-least-once dead-lettering requires of a quorum queue (it has no length limit)."""


def queue_type_arguments(settings: Settings) -> dict[str, str]:
    """``x-queue-type`` for every queue this app declares: quorum on RabbitMQ when asked.

    Queue arguments cannot change once a queue is declared: switching a deployment
    between classic and quorum means deleting its queues first (docs/operations.md).
    """
    if settings.rabbitmq_queue_type == QUORUM and is_amqp(settings.celery_broker_url):
        return {"x-queue-type": QUORUM}
    return {}


def _queues(settings: Settings) -> list[Queue]:
    """Handler queues dead-letter into ``dead_letter`` on RabbitMQ (ignored on Redis).

    On quorum queues every exchange is a topic exchange, which Celery's native delayed
    delivery needs to route a retry's countdown back to its queue (through a direct
    exchange the message would wait in a worker until its ETA), and dead letters move
    at least once, so a leader failing over mid-move loses none.
    """
    typed = queue_type_arguments(settings)
    dead_letter_args = {
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
        **typed,
    }
    if typed:
        dead_letter_args.update({"x-dead-letter-strategy": "at-least-once", **REJECT_PUBLISH})
    exchange_type = "topic" if typed else "direct"
    handler_queues = [
        Queue(
            name,
            Exchange(name, type=exchange_type),
            routing_key=name,
            queue_arguments=dead_letter_args,
        )
        for name in HANDLER_QUEUES
    ]
    return [
        Queue(
            RELAY_QUEUE,
            Exchange(RELAY_QUEUE, type=exchange_type),
            routing_key=RELAY_QUEUE,
            queue_arguments=typed or None,
        ),
        *handler_queues,
        Queue(
            DEAD_LETTER_QUEUE,
            Exchange(DEAD_LETTER_EXCHANGE, type=exchange_type),
            routing_key=DEAD_LETTER_QUEUE,
            queue_arguments=typed or None,
        ),
    ]


def _transport_options(settings: Settings) -> dict[str, Any]:
    url = settings.celery_broker_url
    if is_redis(url):
        options: dict[str, Any] = {
            "visibility_timeout": REDIS_VISIBILITY_TIMEOUT,
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
        }
        if settings.broker_key_prefix:
            options["global_keyprefix"] = settings.broker_key_prefix
        if is_sentinel(url):
            options["master_name"] = settings.broker_sentinel_master
        return options
    if is_amqp(url):
        return {"confirm_publish": True}
    return {}


def _queue_type_conf(settings: Settings) -> dict[str, Any]:
    """On quorum queues, whatever Celery creates by itself is a quorum queue too.

    The worker finds the quorum queues among ``task_queues`` by itself
    (``worker_detect_quorum_queues``): it turns global QoS off, which quorum queues
    refuse, and declares the native delayed-delivery queues that hold countdowns.
    """
    if not queue_type_arguments(settings):
        return {}
    return {
        "task_default_queue_type": QUORUM,
        "task_create_missing_queue_type": QUORUM,
        "broker_native_delayed_delivery_queue_type": QUORUM,
        "worker_detect_quorum_queues": True,
    }


def _result_backend_conf(settings: Settings) -> dict[str, Any]:
    backend = settings.celery_result_backend
    conf: dict[str, Any] = {"result_backend": backend or None}
    if is_sentinel(backend):
        conf["result_backend_transport_options"] = {"master_name": settings.broker_sentinel_master}
    return conf


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
        broker_transport_options=_transport_options(settings),
        task_queues=_queues(settings),
        task_always_eager=settings.task_always_eager,
        task_send_sent_event=settings.task_sent_events,
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
    celery.conf.update(**_queue_type_conf(settings), **_result_backend_conf(settings))
    celery.set_default()
    return celery


def dead_letter_queue(celery: Celery) -> Queue:
    """One object for the process (the app's), so kombu's declare-once cache recognises it."""
    queue: Queue = celery.amqp.queues[DEAD_LETTER_QUEUE]
    return queue


def declare_dead_letter_queue(celery: Celery) -> None:
    """Declare ``dead_letter`` (and its exchange) so the broker has somewhere to route to.

    Workers never consume it, so nothing else would declare it; without it RabbitMQ
    silently drops what the handler queues dead-letter. Publishers declare it too (see
    the relay's publisher), so it comes back after the broker forgot its queues.
    """
    with celery.connection_for_write() as connection:
        dead_letter_queue(celery).bind(connection.default_channel).declare()
