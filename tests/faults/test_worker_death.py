"""SIGKILL a pool child mid-handler, the whole worker, and a delivery that
kills its worker every time."""

import pytest

from tests.faults.chaos import kill_pool_children
from tests.faults.conftest import Rig
from tests.faults.workload import drive_all
from tests.support.waiting import wait_until
from tests.support.workload import Workload, assert_queries_match

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]


def slow_first_webhooks(rig: Rig, seconds: float, *, keys: int) -> None:
    """The first POST of the first ``keys`` keys hangs, so a kill lands mid-handler."""
    seen: set[str] = set()

    def respond(key: str, _event_type: str) -> tuple[int, float]:
        slow = key not in seen and len(seen) < keys
        seen.add(key)
        return 200, seconds if slow else 0.0

    rig.receiver.respond = respond


def webhook_in_flight(rig: Rig, *, after: int) -> None:
    wait_until(lambda: len(rig.receiver.arrived) > after, timeout=30, what="a webhook in flight")


def test_pool_child_killed_mid_handler(rig: Rig) -> None:
    workload = Workload.generate(users=3, orders=8)
    slow_first_webhooks(rig, 1.5, keys=3)
    worker, _beat = rig.stack.start_celery(concurrency=2)

    drive_all(rig.stack.client, workload)
    kills = 0
    for _round in range(3):
        webhook_in_flight(rig, after=len(rig.receiver.arrived))
        kills += kill_pool_children(worker)

    rig.extra.update(pool_child_kills=kills, worker_restarts=0)
    rig.verify(expected_dead=0)
    assert kills >= 3
    assert "WorkerLostError" in worker.log_text() or "exited with" in worker.log_text()
    assert_queries_match(rig.stack.client, workload)


def test_whole_worker_killed_mid_handler(rig: Rig) -> None:
    workload = Workload.generate(users=3, orders=8)
    slow_first_webhooks(rig, 2.0, keys=2)
    worker, _beat = rig.stack.start_celery(concurrency=2)

    drive_all(rig.stack.client, workload)
    webhook_in_flight(rig, after=0)
    worker.kill()
    rig.stack.start_worker(concurrency=2)

    rig.extra.update(whole_worker_kills=1)
    rig.verify(expected_dead=0)
    assert_queries_match(rig.stack.client, workload)


@pytest.mark.rig_settings(outbox_max_attempts=2)
def test_delivery_that_kills_its_worker_is_dead_lettered(rig: Rig) -> None:
    """Every webhook of ``order.shipped`` kills the pool child that sends it.

    Two attempts are enough to show the limit at work (each costs a pool child and its
    replacement), so this scenario gives up sooner than the rig's other ones."""
    workload = Workload.generate(users=2, orders=4)
    shipped = sum(1 for order in workload.orders if order.ship)
    worker, _beat = rig.stack.start_celery(concurrency=1)
    kills = 0

    def respond(_key: str, event_type: str) -> tuple[int, float]:
        nonlocal kills
        if event_type == "order.shipped":
            kills += kill_pool_children(worker)
            return 200, 1.0
        return 200, 0.0

    rig.receiver.respond = respond
    drive_all(rig.stack.client, workload)
    rig.stack.wait_drained(timeout=90)

    rig.extra.update(pool_child_kills=kills)
    rig.verify(expected_dead=shipped)
    dead = rig.stack.client.get("/api/dead-letters?handler=forward_to_webhooks").get_json()
    assert dead["count"] == shipped
    for item in dead["items"]:
        assert item["event_type"] == "order.shipped"
        assert item["exception_type"].endswith("AttemptsExhausted")
        assert item["attempts"] == rig.stack.settings.outbox_max_attempts
    assert kills >= rig.stack.settings.outbox_max_attempts * shipped
