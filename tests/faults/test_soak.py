"""Soak: over a thousand commands while pool children die at random, the whole
worker is killed once and the broker restarts (empty) once."""

import time

import pytest

from tests.faults.chaos import ChildKiller
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

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]


@pytest.mark.rig_settings(outbox_max_attempts=10, outbox_redelivery_seconds=30)
def test_soak_with_random_kills_and_a_broker_restart(rig: Rig) -> None:
    workload = Workload.generate(users=80, orders=400, seed=7)
    commands = command_count(workload)
    assert commands >= 1000
    worker, _beat = rig.stack.start_celery(concurrency=2)
    killer = ChildKiller(worker, every=(0.4, 1.2), seed=11)
    killer.start()
    started = time.monotonic()
    try:
        register_users(rig.stack.client, workload)
        create_orders(rig.stack.client, workload)
        rig.broker.crash()
        pay_orders(rig.stack.client, workload)
        rig.broker.start_empty()
        worker.kill()
        killer.worker = rig.stack.start_worker(concurrency=2)
        ship_orders(rig.stack.client, workload)
        cancel_orders(rig.stack.client, workload)
        sent = time.monotonic() - started
        # The kills go on into the drain: the backlog is worked off under fire too.
        kills_when_sent = killer.kills
        wait_until(
            lambda: killer.kills >= kills_when_sent + 2,
            timeout=30,
            what="two more pool-child kills after the last command",
        )
    finally:
        pool_kills = killer.stop()

    rig.extra.update(
        commands=commands,
        pool_child_kills=pool_kills,
        whole_worker_kills=1,
        broker_restarts=1,
        seconds_sending=round(sent, 1),
    )
    rig.verify(expected_dead=0, drain_timeout=300)
    assert pool_kills >= 5
    assert_queries_match(rig.stack.client, workload)
