"""What each queue type declares on RabbitMQ, and that Redis and classic keep theirs.

Built without a broker: ``build_celery`` connects to nothing.
"""

from contextlib import nullcontext
from pathlib import Path

import pytest
from celery import Celery

from app.application.event_handlers.registry import HANDLER_QUEUES
from app.application.maintenance_tasks import (
    BACKFILL_SOFT_TIME_LIMIT,
    BACKFILL_TIME_LIMIT,
    RELAY_QUEUE,
)
from app.config import Settings
from app.infrastructure.messaging.celery_app import (
    DEAD_LETTER_QUEUE,
    RABBITMQ_CONSUMER_TIMEOUT,
    REDIS_VISIBILITY_TIMEOUT,
    build_celery,
    dead_letter_queue,
)

AMQP = "amqp://guest:guest@127.0.0.1:5672//"
CLUSTER = "amqp://guest:guest@127.0.0.1:5672//;amqp://guest:guest@127.0.0.1:5673//"


def celery_for(tmp_path: Path, **env: str) -> Celery:
    return build_celery(Settings.from_env(env=env, instance_dir=tmp_path), nullcontext)


@pytest.mark.parametrize("url", [AMQP, CLUSTER])
def test_quorum_declares_every_queue_quorum_on_topic_exchanges(tmp_path: Path, url: str) -> None:
    celery = celery_for(tmp_path, CELERY_BROKER_URL=url, RABBITMQ_QUEUE_TYPE="quorum")
    queues = celery.amqp.queues
    assert set(queues) == {RELAY_QUEUE, *HANDLER_QUEUES, DEAD_LETTER_QUEUE}
    for queue in queues.values():
        assert queue.queue_arguments["x-queue-type"] == "quorum", queue.name
        assert queue.exchange.type == "topic", queue.name
    for name in HANDLER_QUEUES:
        arguments = queues[name].queue_arguments
        assert arguments["x-dead-letter-exchange"] == DEAD_LETTER_QUEUE
        assert arguments["x-dead-letter-strategy"] == "at-least-once"
        assert arguments["x-overflow"] == "reject-publish"
    assert celery.conf.task_default_queue_type == "quorum"
    assert celery.conf.task_create_missing_queue_type == "quorum"
    assert celery.conf.worker_detect_quorum_queues is True
    assert dead_letter_queue(celery) is queues[DEAD_LETTER_QUEUE]


def test_classic_declares_what_it_always_did(tmp_path: Path) -> None:
    celery = celery_for(tmp_path, CELERY_BROKER_URL=AMQP)
    queues = celery.amqp.queues
    for queue in queues.values():
        assert "x-queue-type" not in (queue.queue_arguments or {}), queue.name
        assert queue.exchange.type == "direct", queue.name
    for name in HANDLER_QUEUES:
        assert queues[name].queue_arguments == {
            "x-dead-letter-exchange": DEAD_LETTER_QUEUE,
            "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
        }
    assert celery.conf.task_create_missing_queue_type == "classic"


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "sentinel://127.0.0.1:26379;sentinel://127.0.0.1:26380"]
)
def test_redis_ignores_the_queue_type(tmp_path: Path, url: str) -> None:
    celery = celery_for(
        tmp_path,
        CELERY_BROKER_URL=url,
        RABBITMQ_QUEUE_TYPE="quorum",
        BROKER_SENTINEL_MASTER="outboxflow",
    )
    for queue in celery.amqp.queues.values():
        assert "x-queue-type" not in (queue.queue_arguments or {}), queue.name
    options = celery.conf.broker_transport_options
    assert options["visibility_timeout"] > 0
    assert options.get("master_name") == ("outboxflow" if url.startswith("sentinel") else None)


def test_a_sentinel_result_backend_gets_the_master_name(tmp_path: Path) -> None:
    celery = celery_for(
        tmp_path,
        CELERY_RESULT_BACKEND="sentinel://127.0.0.1:26379/1",
        BROKER_SENTINEL_MASTER="outboxflow",
    )
    assert celery.conf.result_backend_transport_options == {"master_name": "outboxflow"}


def test_a_backfill_stops_before_either_broker_hands_its_message_to_another_worker() -> None:
    """The limits live beside the task's name (the entry points may not import the Celery
    app), the timeouts beside the broker settings: this keeps them in order."""
    brokers_wait = min(REDIS_VISIBILITY_TIMEOUT, RABBITMQ_CONSUMER_TIMEOUT)
    assert BACKFILL_SOFT_TIME_LIMIT < BACKFILL_TIME_LIMIT < brokers_wait
