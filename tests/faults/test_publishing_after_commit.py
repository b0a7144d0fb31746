"""Commands only write; a relay woken at commit publishes. No lease outlives a dead process.

Before, the web process published its own deliveries right after commit, holding them
``dispatched`` for ``OUTBOX_REDELIVERY_SECONDS`` (300 s): one killed between its commit and
its publish stranded them that long. And a broker that came back empty before any relay
sweep ran (a sweep is a task, and needs a worker) kept everything it lost waiting as long.
Both scenarios run with the default leases.
"""

import threading
import time
from collections.abc import Callable
from uuid import uuid4

import pytest
import requests
import sqlalchemy as sa

from app.infrastructure.persistence.tables import outbox
from tests.faults.conftest import Rig
from tests.support.waiting import wait_until
from tests.support.workload import Workload, assert_queries_match, drive

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

DEFAULT_LEASES = {"outbox_redelivery_seconds": 300, "outbox_claim_lease_seconds": 30}
PUBLISHED_WITHIN_SECONDS = 5.0


def _post_users_until(base_url: str, stop: threading.Event, accepted: list[str]) -> None:
    session = requests.Session()
    while not stop.is_set():
        email = f"load-{uuid4().hex[:12]}@example.com"
        try:
            answer = session.post(
                f"{base_url}/api/users", json={"email": email, "name": "Load"}, timeout=5
            )
        except requests.RequestException:
            continue
        if answer.status_code == 201:
            accepted.append(email)


def _more_than(accepted: list[str], target: int) -> Callable[[], bool]:
    return lambda: len(accepted) >= target


def _slowest_publish_seconds(engine: sa.Engine) -> float:
    """An upper bound of each row's wait for its publish: until the relay marked it
    dispatched, or, for a row a worker finished before that mark (which then leaves it
    alone), until it was done."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.created_at, outbox.c.dispatched_at, outbox.c.done_at)
        ).all()
    assert rows
    return max(((r.dispatched_at or r.done_at) - r.created_at).total_seconds() for r in rows)


@pytest.mark.rig_settings(**DEFAULT_LEASES)
def test_killing_web_processes_under_load_strands_nothing(rig: Rig) -> None:
    rig.stack.start_worker(concurrency=2)
    accepted: list[str] = []
    for _round in range(3):
        web, base_url = rig.stack.start_web(workers=2)
        stop = threading.Event()
        posters = [
            threading.Thread(target=_post_users_until, args=(base_url, stop, accepted))
            for _ in range(4)
        ]
        for poster in posters:
            poster.start()
        wait_until(_more_than(accepted, len(accepted) + 20), timeout=30, what="commands accepted")
        web.kill()
        stop.set()
        for poster in posters:
            poster.join(timeout=10)

    rig.stack.wait_drained(timeout=60)
    slowest = _slowest_publish_seconds(rig.stack.engine)
    rig.extra.update(commands_accepted=len(accepted), slowest_publish_seconds=round(slowest, 3))
    rig.verify(expected_dead=0)
    assert slowest <= PUBLISHED_WITHIN_SECONDS, slowest


@pytest.mark.rig_settings(**DEFAULT_LEASES)
def test_a_broker_lost_before_any_worker_ran_is_recovered_at_once(rig: Rig) -> None:
    """Web, beat and relay running, no worker yet; the broker restarts empty; then a worker
    starts. The relay placed the canary on its first contact, so it notices the loss."""
    rig.stack.start_relay()
    rig.stack.start_beat()
    workload = Workload.generate(users=4, orders=12)
    drive(rig.stack.client, workload)
    wait_until(
        lambda: sum(rig.stack.queue_depths().values()) > 0,
        timeout=30,
        what="the deliveries published, waiting for a worker",
    )
    rig.broker.crash()
    rig.broker.start_empty()

    started = time.monotonic()
    rig.stack.start_worker(concurrency=2, relay=False)
    figures = rig.verify(expected_dead=0, drain_timeout=60)
    recovered_in = time.monotonic() - started
    rig.extra.update(recovered_seconds=round(recovered_in, 1), deliveries=figures.deliveries)
    assert recovered_in < 30, recovered_in
    assert_queries_match(rig.stack.client, workload)
