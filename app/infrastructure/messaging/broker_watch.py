"""Notice a broker that came back empty (restarted without its queues).

The broker is a fast path that may forget messages; the outbox knows what was published
and not yet started. A canary message sits in a queue nobody consumes: when it is gone,
so is everything else the broker held, and the relay publishes the unstarted deliveries
again at once instead of waiting for their redelivery leases to run out.
"""

from celery import Celery
from kombu import Exchange, Queue

CANARY_QUEUE = "outboxflow.canary"


class BrokerWatch:
    def __init__(self, celery: Celery) -> None:
        self._celery = celery
        self._queue = Queue(
            CANARY_QUEUE,
            Exchange(CANARY_QUEUE, type="direct", durable=True),
            routing_key=CANARY_QUEUE,
            durable=True,
        )

    def broker_lost_messages(self) -> bool:
        """True when the canary is missing (then a new one is put in its place).

        The very first check on a new broker also answers True: re-publishing what is
        dispatched then is harmless (handler receipts make duplicates no-ops).
        """
        with self._celery.connection_for_write() as connection:
            channel = connection.default_channel
            queue = self._queue(channel)
            _name, messages, _consumers = queue.queue_declare()
            if messages:
                return False
            queue.exchange.declare()
            queue.queue_bind()
            with connection.Producer(channel) as producer:
                producer.publish(
                    {"canary": True},
                    exchange=queue.exchange,
                    routing_key=CANARY_QUEUE,
                    serializer="json",
                    delivery_mode=2,
                )
        return True
