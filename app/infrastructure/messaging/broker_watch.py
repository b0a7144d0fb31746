"""Notice a broker that came back empty (restarted without its queues).

The broker is a fast path that may forget messages; the outbox knows what was published
and not yet started. A canary message sits in a queue nobody consumes: when it is gone,
so is everything else the broker held, and the relay publishes the unstarted deliveries
again at once instead of waiting for their redelivery leases to run out.

The database remembers which brokers have had a canary, so a broker seen for the first
time (a new deployment, a new vhost) is not mistaken for one that lost its queues: that
would send every queued delivery twice just when a backlog is being worked off.
"""

import hashlib

import sqlalchemy as sa
from celery import Celery
from kombu import Exchange, Queue

from app.infrastructure.persistence.sql import upsert, utcnow
from app.infrastructure.persistence.tables import broker_canaries

CANARY_QUEUE = "outboxflow.canary"


class BrokerWatch:
    def __init__(self, celery: Celery, engine: sa.Engine, *, broker: str) -> None:
        """``broker`` names it (URL and key prefix); only its hash is stored."""
        self._celery = celery
        self._engine = engine
        self._queue = Queue(
            CANARY_QUEUE,
            Exchange(CANARY_QUEUE, type="direct", durable=True),
            routing_key=CANARY_QUEUE,
            durable=True,
        )
        self._broker = hashlib.sha256(broker.encode()).hexdigest()[:64]

    def broker_lost_messages(self) -> bool:
        """True when a canary this deployment placed is missing; then a new one is placed.

        One queue declaration per call; the database is asked only when the canary is gone.
        """
        with self._celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
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
        return self._placed_before()

    def _placed_before(self) -> bool:
        with self._engine.begin() as conn:
            known = conn.execute(
                sa.select(broker_canaries.c.broker).where(broker_canaries.c.broker == self._broker)
            ).first()
            placed = upsert(conn, broker_canaries).values(broker=self._broker, placed_at=utcnow())
            conn.execute(
                placed.on_conflict_do_update(
                    index_elements=["broker"], set_={"placed_at": placed.excluded.placed_at}
                )
            )
        return known is not None
