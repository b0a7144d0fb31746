"""A message of any shape on a handler queue is dead-lettered with its raw body and the
reason, and acknowledged; the worker (which also runs the relay) keeps going.

Before the fix, a real task header over a body that is not ``[args, kwargs, embed]`` made
the worker's main process exit with "Unrecoverable error", and the message, restored to
the queue, killed every restarted worker 0.1 s after "ready".
"""

import json
from typing import Any

import pytest
from kombu.messaging import Producer

from tests.faults.conftest import Rig
from tests.support.waiting import wait_until
from tests.support.workload import Workload, assert_queries_match, drive

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

TASK = "handlers.project_order_summary"

# Each is a body a broken producer could send under a real task header.
POISON: dict[str, Any] = {
    "string": "just a string",
    "two-items": [[], {"delivery_id": 1}],
    "four-items": [[], {}, {}, {}],
    "number": 5,
    "null": None,
    "object": {"delivery_id": 1},
    "kwargs-a-list": [[], [1, 2], {}],
    "args-a-number": [7, {}, {}],
    "embed-a-string": [[], {"delivery_id": 1}, "callbacks"],
    "embed-bad-callbacks": [[], {"delivery_id": 1}, {"callbacks": 5, "chain": "x"}],
    "huge-delivery-id": [[], {"delivery_id": 2**70, "envelope": {}}, {}],
}


def _publish_poison(rig: Rig) -> None:
    queue = rig.stack.celery.amqp.queues["projections"]
    with rig.stack.celery.connection_for_write() as connection:
        producer = Producer(connection)
        for name, body in POISON.items():
            producer.publish(
                json.dumps(body),
                content_type="application/json",
                content_encoding="utf-8",
                headers={"task": TASK, "id": f"poison-{name}", "lang": "py"},
                exchange=queue.exchange,
                routing_key=queue.routing_key,
                declare=[queue],
            )


def test_poison_on_a_handler_queue_is_dead_lettered_and_the_worker_lives(rig: Rig) -> None:
    worker = rig.stack.start_worker(concurrency=2)
    _publish_poison(rig)

    def dead_letters() -> list[dict[str, Any]]:
        return list(rig.stack.client.get("/api/dead-letters").get_json()["items"])

    wait_until(
        lambda: len(dead_letters()) >= len(POISON) or not worker.running,
        timeout=60,
        what=f"{len(POISON)} dead letters",
    )
    assert worker.running, f"the worker exited on a malformed message:\n{worker.tail()}"
    recorded = dead_letters()
    assert len(recorded) == len(POISON), [d["message"] for d in recorded]
    for dead in recorded:
        assert dead["handler"] == "project_order_summary", dead
        detail = rig.stack.client.get(f"/api/dead-letters/{dead['id']}").get_json()
        assert detail["body"], detail
    reasons = " | ".join(str(d["message"]) for d in recorded)
    for expected in (
        "the body must be [args, kwargs, embed], got str",
        "the body must be [args, kwargs, embed], got a list of 2",
        "kwargs must be an object, got a list of 2",
        "args must be a list, got int",
        "embed must be an object, got str",
        "this worker runs no callbacks, chains or chords",
        "delivery_id must be between 1 and",
    ):
        assert expected in reasons, f"{expected!r} not in {reasons}"

    # The same worker still runs the relay and real deliveries, and nothing was lost.
    rig.stack.start_beat()
    workload = Workload.generate(users=4, orders=12)
    drive(rig.stack.client, workload)
    rig.verify(expected_dead=0, expected_dead_letters=len(POISON))
    assert_queries_match(rig.stack.client, workload)
    assert worker.running, worker.tail()
