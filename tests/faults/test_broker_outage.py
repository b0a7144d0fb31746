"""The broker dies with deliveries in flight and queued, and comes back empty.

Commands keep being accepted while it is down (rows wait in the outbox); the worker,
beat and relay reconnect by themselves; the relay re-publishes what the broker forgot.
"""

import time

import pytest

from app.infrastructure.messaging.broker_watch import CANARY_QUEUE
from tests.faults.conftest import Rig
from tests.faults.workload import command_count, drive_all
from tests.support.outbox import in_broker, outbox_stats, status_counts
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
    queued = in_broker(rig.stack.engine)
    rig.broker.crash()

    started = time.monotonic()
    pay_orders(rig.stack.client, workload)
    ship_orders(rig.stack.client, workload)
    cancel_orders(rig.stack.client, workload)
    seconds_down = time.monotonic() - started
    waiting = outbox_stats(rig.stack.container.engine)["pending"]
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


def test_losing_the_broker_with_one_task_running_keeps_the_worker(rig: Rig) -> None:
    """One delivery running, the worker polling the broker for the next, the broker dies:
    the worker reconnects instead of exiting.

    kombu's Redis transport stopped the worker with status 1 in exactly this state
    (``app/infrastructure/messaging/redis_transport.py`` says why); with two deliveries
    running, as the broad scenario above mostly has, the worker was not polling and lived.
    """
    workload = Workload.generate(users=1, orders=0)
    rig.receiver.respond = lambda _key, _type: (200, 3.0)
    worker, _beat = rig.stack.start_celery(concurrency=2)
    register_users(rig.stack.client, workload)
    wait_until(
        lambda: rig.receiver.arrived and status_counts(rig.stack.engine).get("done") == 2,
        timeout=30,
        what="the webhook running alone, the registration's other two deliveries done",
    )
    since = worker.log_offset()

    rig.broker.crash()

    worker.wait_for_log("Connection to broker lost", timeout=20, since=since)
    worker.wait_for_log("Cannot connect to", timeout=20, since=since)
    rig.stack.check_processes()
    rig.broker.start_empty()
    rig.extra.update(broker_restarts=1, running_at_crash=1)
    rig.verify(expected_dead=0, drain_timeout=60)


@pytest.mark.rig_settings(outbox_redelivery_seconds=600)
def test_a_broker_that_comes_back_empty_is_noticed_long_before_the_redelivery_lease(
    rig: Rig,
) -> None:
    """Published but unstarted deliveries are sent again at once, not after 10 minutes.

    No worker runs while the commands are accepted, so every delivery sits in a queue
    when the broker dies. With a 600 s redelivery lease, only the relay noticing the
    empty broker (its canary is gone) can drain the outbox within the time allowed.
    """
    workload = Workload.generate(users=3, orders=6)
    drive_all(rig.stack.client, workload)
    rig.stack.container.relay.sweep()
    assert _canary_placed(rig), "the relay's first sweep places its canary"
    stats = outbox_stats(rig.stack.container.engine)
    queued = sum(rig.stack.queue_depths().values())
    rig.broker.crash()
    rig.broker.start_empty()

    started = time.monotonic()
    rig.stack.start_celery(concurrency=2)
    rig.verify(expected_dead=0, drain_timeout=60)
    rig.extra.update(
        broker_restarts=1,
        dispatched_at_crash=stats["dispatched"],
        queued_at_crash=queued,
        seconds_to_drain_after_restart=round(time.monotonic() - started, 2),
    )
    assert stats["dispatched"] > 0 and queued >= stats["dispatched"]
    assert_queries_match(rig.stack.client, workload)


def _canary_placed(rig: Rig) -> bool:
    return rig.stack.queue_depths([CANARY_QUEUE])[CANARY_QUEUE] > 0
