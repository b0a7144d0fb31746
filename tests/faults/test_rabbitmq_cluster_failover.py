"""A three-node RabbitMQ cluster loses the node that leads every quorum queue, under load.

Every process is given all three nodes (``amqp://n1;amqp://n2;amqp://n3``) and connects
to the first, so the queues it declares are led from there. That node is SIGKILLed while
webhooks are in flight and a backlog waits; commands keep coming. The surviving two
nodes elect new leaders from their replicas, the worker and the relay fail over to them,
and every delivery ends done, once.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.application.event_handlers.registry import HANDLER_QUEUES
from tests.faults.conftest import Rig, running_rig
from tests.faults.replicated_brokers import RabbitClusterBroker
from tests.support.fixtures import MakeDatabase
from tests.support.outbox import in_broker
from tests.support.waiting import wait_until
from tests.support.workload import (
    Workload,
    assert_queries_match,
    cancel_orders,
    create_orders,
    pay_orders,
    register_users,
    ship_orders,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]


@pytest.fixture
def cluster_rig(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[Rig]:
    broker = RabbitClusterBroker(tmp_path / "rabbitmq")
    try:
        with running_rig(
            request,
            tmp_path,
            make_database("postgresql"),
            broker,
            rabbitmq_queue_type="quorum",
        ) as rig:
            yield rig
    finally:
        broker.close()


def test_killing_the_node_that_leads_the_quorum_queues_loses_nothing(
    cluster_rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    rig = cluster_rig
    broker = rig.broker
    assert isinstance(broker, RabbitClusterBroker)
    workload = Workload.generate(users=4, orders=16)
    rig.receiver.respond = lambda _key, _type: (200, 0.15)
    worker, _beat = rig.stack.start_celery(concurrency=2)
    queues = list(HANDLER_QUEUES)
    leader = broker.leader_node(queues)
    types = broker.cluster.queue_leaders(broker.cluster.nodes[-1])
    assert {types[queue][0] for queue in queues} == {"quorum"}, types

    register_users(rig.stack.client, workload)
    create_orders(rig.stack.client, workload)
    wait_until(lambda: len(rig.receiver.arrived) >= 3, timeout=60, what="webhooks in flight")
    since = worker.log_offset()
    queued = in_broker(rig.stack.engine)
    broker.crash(leader)
    killed_at = time.monotonic()
    pay_orders(rig.stack.client, workload)
    ship_orders(rig.stack.client, workload)
    cancel_orders(rig.stack.client, workload)
    worker.wait_for_log(r"Connected to amqp://", timeout=120, since=since)
    reconnected = time.monotonic() - killed_at

    survivor = broker.cluster.nodes[-1]
    new_leaders = broker.cluster.queue_leaders(survivor)
    assert all(new_leaders[queue][1] != leader.name for queue in queues), new_leaders
    rig.extra.update(
        killed_node=leader.name,
        queued_at_kill=queued,
        seconds_to_worker_reconnect=round(reconnected, 2),
    )
    rig.verify(expected_dead=0, drain_timeout=180)
    drained = time.monotonic() - killed_at
    assert_queries_match(rig.stack.client, workload)
    assert queued > 0, "the kill should hit a backlog"

    figures = {
        "seconds_to_worker_reconnect": round(reconnected, 2),
        "seconds_to_drain_after_kill": round(drained, 2),
    }
    for name, value in figures.items():
        record_property(name, value)
    print(f"rabbitmq cluster failover ({leader.name} killed): {figures}")
