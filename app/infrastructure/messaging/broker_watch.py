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
from collections.abc import Mapping

import sqlalchemy as sa
from celery import Celery
from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from app.infrastructure.persistence.sql import upsert, utcnow
from app.infrastructure.persistence.tables import broker_canaries

CANARY_QUEUE = "outboxflow.canary"


class BrokerWatch:
    def __init__(
        self,
        celery: Celery,
        engine: sa.Engine,
        *,
        broker: str,
        queue_arguments: Mapping[str, str] | None = None,
    ) -> None:
        """``broker`` names it (URL and key prefix); only its hash is stored.

        ``queue_arguments``: the canary queue's type, as every other queue's (a classic
        canary on a cluster would vanish with its node and look like a lost broker).
        """
        self._celery = celery
        self._engine = engine
        self._queue = Queue(
            CANARY_QUEUE,
            Exchange(CANARY_QUEUE, type="direct", durable=True),
            routing_key=CANARY_QUEUE,
            durable=True,
            queue_arguments=dict(queue_arguments) if queue_arguments else None,
        )
        self._broker = hashlib.sha256(broker.encode()).hexdigest()[:64]

    def broker_lost_messages(self) -> bool:
        """True when a canary this deployment placed is missing; then a new one is placed.

        One queue declaration while the canary is there (every sweep). When it is missing,
        relays running side by side take turns on the broker's row: the first places the
        next canary and answers True, the others find it placed and answer False, so a lost
        broker is recovered once and a new one never looks lost.
        """
        with self._celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            queue = self._queue(connection.default_channel)
            if self._canary_present(queue):
                return False
            with self._engine.begin() as conn:
                placed_before = self._take_turn(conn)
                if self._canary_present(queue):
                    return False
                self._place_canary(connection, queue)
            return placed_before

    @staticmethod
    def _canary_present(queue: Queue) -> bool:
        _name, messages, _consumers = queue.queue_declare()
        return bool(messages)

    def _take_turn(self, conn: sa.Connection) -> bool:
        """Lock this broker's row (waiting for a relay that holds it); True if it existed.

        The UPDATE takes the row lock on PostgreSQL and the write lock on SQLite; a first
        sighting inserts the row, and a concurrent first sighting waits on that insert.
        """
        now = utcnow()
        touched = conn.execute(
            broker_canaries.update()
            .where(broker_canaries.c.broker == self._broker)
            .values(placed_at=now)
        ).rowcount
        if touched:
            return True
        first = upsert(conn, broker_canaries).values(broker=self._broker, placed_at=now)
        conn.execute(first.on_conflict_do_nothing(index_elements=["broker"]))
        return False

    @staticmethod
    def _place_canary(connection: Connection, queue: Queue) -> None:
        """Publish the canary; return once the queue counts it, before the row is committed.

        The declaration after the publish goes over the same channel, so the broker answers
        it after routing the canary: the next relay to take its turn finds it.
        """
        queue.exchange.declare()
        queue.queue_bind()
        with connection.Producer(queue.channel) as producer:
            producer.publish(
                {"canary": True},
                exchange=queue.exchange,
                routing_key=CANARY_QUEUE,
                serializer="json",
                delivery_mode=2,
            )
        BrokerWatch._canary_present(queue)
