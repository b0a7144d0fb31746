"""The broker dies with deliveries in flight and queued, and comes back empty.

Commands keep being accepted while it is down (rows wait in the outbox); the worker,
beat and relay reconnect by themselves; the relay re-publishes what the broker forgot.
"""

import time

import pytest

from tests.faults.conftest import Rig
from tests.faults.workload import command_count
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

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]


def test_broker_restarts_empty_with_deliveries_in_flight_and_queued(rig: Rig) -> None:
    workload = Workload.generate(users=4, orders=16)
    rig.receiver.respond = lambda _key, _type: (200, 0.15)
    rig.stack.start_celery(concurrency=2)

    register_users(rig.stack.client, workload)
    create_orders(rig.stack.client, workload)
    wait_until(lambda: len(rig.receiver.arrived) >= 3, timeout=30, what="webhooks in flight")
    queued = sum(rig.stack.queue_depths().values())
    rig.broker.crash()

    started = time.monotonic()
    pay_orders(rig.stack.client, workload)
    ship_orders(rig.stack.client, workload)
    cancel_orders(rig.stack.client, workload)
    seconds_down = time.monotonic() - started
    waiting = rig.stack.container.outbox_stats()["pending"]
    accepted_while_down = command_count(workload) - len(workload.users) - len(workload.orders)
    rig.broker.start_empty()

    rig.extra.update(
        broker_restarts=1,
        queued_at_crash=queued,
        commands_while_down=accepted_while_down,
        pending_while_down=waiting,
        seconds_for_those_commands=round(seconds_down, 2),
    )
    assert queued > 0, "the crash should hit a backlog"
    assert waiting > 0, "deliveries of the commands sent while down wait in the outbox"
    rig.verify(expected_dead=0, drain_timeout=120)
    assert_queries_match(rig.stack.client, workload)
