"""Native delayed delivery set up through the node the worker is connected to.

On quorum queues a retry's countdown waits in RabbitMQ's ``celery_delayed_*`` queues,
which Celery's ``DelayedDelivery`` consumer step declares, with their bindings, each
time the worker connects. Celery's step does it through every URL of a failover list
(``amqp://a;amqp://b;amqp://c``), and retries a node that is down three times, 1, 3 and
5 s apart, while the worker consumes nothing: a cluster that lost one node stalled every
reconnecting worker for some 17 s (``tests/faults/test_rabbitmq_cluster_failover.py``).
Exchanges, queues and bindings belong to the whole cluster, so declaring them through
the connected node is enough. And every queue is declared before it is bound: Celery's
step binds ``dead_letter`` too, which no worker consumes, and fails on a new broker
where nothing has declared it yet.
"""

from typing import Any

from celery import Celery
from celery.worker.consumer import Consumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery
from kombu.connection import Connection

CELERY_STEP = "celery.worker.consumer.delayed_delivery:DelayedDelivery"


class ConnectedNodeDelayedDelivery(DelayedDelivery):  # type: ignore[misc]
    _connected_url: str | None = None

    def start(self, c: Consumer) -> None:
        self._connected_url = c.connection.as_uri(include_password=True)
        super().start(c)

    def _bind_queues(self, app: Celery, connection: Connection) -> None:
        channel = connection.default_channel
        for queue in app.amqp.queues.values():
            queue(channel).declare()
        super()._bind_queues(app, connection)

    def _validate_broker_urls(self, broker_urls: Any) -> set[str]:
        every_url: set[str] = super()._validate_broker_urls(broker_urls)
        return {self._connected_url} if self._connected_url else every_url


STEP = f"{ConnectedNodeDelayedDelivery.__module__}:{ConnectedNodeDelayedDelivery.__name__}"


def consumer_steps(steps: list[str]) -> list[str]:
    """Celery's consumer steps with ours in place of its ``DelayedDelivery``."""
    return [STEP if step == CELERY_STEP else step for step in steps]
