"""Deliveries, retries with countdowns and dead letters on quorum queues, with a real worker.

The broker is a RabbitMQ server of the test's own (one node), so its queue types and the
delayed-delivery queues can be listed without touching the shared server. Webhooks for
``order.created`` fail twice and then succeed (retried after their countdowns), those
for ``order.cancelled`` always fail (dead after the attempt limit, and routed to the
``dead_letter`` quorum queue by the handler queue's dead-letter exchange).
"""

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.infrastructure.messaging.celery_app import DEAD_LETTER_QUEUE
from tests.faults.conftest import Rig, running_rig
from tests.faults.replicated_brokers import RabbitClusterBroker
from tests.faults.workload import drive_all
from tests.support.fixtures import MakeDatabase
from tests.support.stack import WORKER_QUEUES
from tests.support.workload import Workload, assert_queries_match

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

DELAYED_QUEUES = [f"celery_delayed_{level}" for level in range(28)]
FAILURES_BEFORE_SUCCESS = 2


@pytest.fixture
def quorum_rig(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[Rig]:
    broker = RabbitClusterBroker(tmp_path / "rabbitmq", size=1)
    try:
        with running_rig(
            request,
            tmp_path,
            make_database("postgresql"),
            broker,
            rabbitmq_queue_type="quorum",
            outbox_retry_backoff_seconds=2,
            outbox_retry_backoff_max_seconds=4,
        ) as rig:
            yield rig
    finally:
        broker.close()


class DelayedDepths:
    """Polls the delayed-delivery queues while the scenario runs; keeps the largest total."""

    def __init__(self, rig: Rig) -> None:
        self._rig = rig
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> "DelayedDepths":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            depths = self._rig.stack.queue_depths(DELAYED_QUEUES)
            self.most = max(self.most, sum(depths.values()))


def test_deliveries_retries_and_dead_letters_on_quorum_queues(quorum_rig: Rig) -> None:
    rig = quorum_rig
    broker = rig.broker
    assert isinstance(broker, RabbitClusterBroker)
    failures: Counter[str] = Counter()
    lock = threading.Lock()

    def respond(key: str, event_type: str) -> tuple[int, float]:
        if event_type == "order.cancelled":
            return 500, 0.0
        if event_type != "order.created":
            return 200, 0.0
        with lock:
            failures[key] += 1
            return (500 if failures[key] <= FAILURES_BEFORE_SUCCESS else 200), 0.0

    rig.receiver.respond = respond
    workload = Workload.generate(users=3, orders=8)
    cancelled = sum(order.cancel for order in workload.orders)
    rig.stack.start_celery(concurrency=2)
    with DelayedDepths(rig) as delayed:
        drive_all(rig.stack.client, workload)
        rig.verify(expected_dead=cancelled, drain_timeout=180)
    assert_queries_match(rig.stack.client, workload)

    created = len(workload.orders)
    assert cancelled > 0
    assert sum(1 for c in rig.receiver.calls if c.status == 500) == (
        created * FAILURES_BEFORE_SUCCESS + cancelled * rig.stack.settings.outbox_max_attempts
    )
    assert delayed.most > 0, "no retry ever waited in the delayed-delivery queues"
    assert rig.stack.queue_depths([DEAD_LETTER_QUEUE])[DEAD_LETTER_QUEUE] == cancelled
    leaders = broker.cluster.queue_leaders(broker.cluster.nodes[0])
    declared = [*WORKER_QUEUES, DEAD_LETTER_QUEUE, *DELAYED_QUEUES]
    assert {name: leaders[name][0] for name in declared} == dict.fromkeys(declared, "quorum")
    print(f"quorum queues: at most {delayed.most} retries waited in the broker at once")
