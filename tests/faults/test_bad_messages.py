"""Bad input on a handler queue: unknown task, broken arguments, undecodable body, not a
task message at all. Each is dead-lettered with a clear reason; the worker keeps going."""

import pytest
from kombu.messaging import Producer

from tests.faults.conftest import Rig
from tests.support.waiting import wait_until
from tests.support.workload import Workload, assert_queries_match, register_users

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

EXPECTED_REASONS = (
    "no task named 'handlers.no_such_handler' is registered",
    "delivery_id must be an integer, got 'abc'",
    "cannot decode the message body",
    "the message names no task",
)


def test_garbage_on_a_handler_queue_is_dead_lettered(rig: Rig) -> None:
    rig.stack.start_worker(concurrency=2)
    queue = rig.stack.celery.amqp.queues["projections"]
    with rig.stack.celery.connection_for_write() as connection:
        producer = Producer(connection)
        send = {"exchange": queue.exchange, "routing_key": queue.routing_key, "declare": [queue]}
        producer.publish(
            {},
            serializer="json",
            headers={"task": "handlers.no_such_handler", "id": "bad-1", "lang": "py"},
            **send,
        )
        producer.publish(
            [[], {"delivery_id": "abc", "envelope": 5}, {}],
            serializer="json",
            headers={"task": "handlers.project_order_summary", "id": "bad-2", "lang": "py"},
            **send,
        )
        producer.publish(
            b"\xff\xfe{not json",
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": "handlers.project_order_summary", "id": "bad-3"},
            **send,
        )
        producer.publish({"hello": "world"}, serializer="json", **send)

    def dead_letters() -> list[dict[str, object]]:
        return list(rig.stack.client.get("/api/dead-letters").get_json()["items"])

    wait_until(lambda: len(dead_letters()) >= 4, timeout=30, what="4 dead letters")
    messages = [str(d["message"]) for d in dead_letters()]
    for reason in EXPECTED_REASONS:
        assert any(reason in m for m in messages), (reason, messages)

    rig.stack.start_beat()
    workload = Workload.generate(users=3, orders=0)
    register_users(rig.stack.client, workload)
    rig.verify(expected_dead=0, expected_dead_letters=4)
    assert_queries_match(rig.stack.client, workload)
