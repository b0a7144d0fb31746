"""A poison event and a webhook answering 500 until it is fixed.

Retries with backoff, then dead letters with their error, attempts and traceback; the
other handlers and events are untouched; after the fix a re-drive completes them, and
the dead-letter rows stay as history.
"""

import uuid

import pytest
import sqlalchemy as sa

from app.infrastructure.messaging.celery_app import DEAD_LETTER_QUEUE
from app.infrastructure.persistence.tables import events
from tests.faults.conftest import Rig
from tests.faults.workload import drive_all
from tests.support.db_state import repair_event_payload, store_raw_event
from tests.support.workload import Workload, assert_queries_match

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]


def insert_poison_order(rig: Rig, user_id: str) -> str:
    """An ``order.created`` whose payload no handler can decode (``items`` missing)."""
    order_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    subscribers = (
        "project_order_summary",
        "send_order_confirmation",
        "notify_sales_channel",
        "forward_to_webhooks",
    )
    with rig.stack.engine.begin() as conn:
        store_raw_event(
            conn,
            event_id=event_id,
            aggregate_id=order_id,
            payload={"user_id": user_id, "total": "5.00"},
            handlers=subscribers,
            correlation_id="poison",
        )
    return event_id


def test_poison_event_and_failing_webhook_then_redrive(rig: Rig) -> None:
    workload = Workload.generate(users=3, orders=5)
    fixed = False

    def respond(_key: str, event_type: str) -> tuple[int, float]:
        return (500 if event_type == "order.created" and not fixed else 200), 0.0

    rig.receiver.respond = respond
    rig.stack.start_celery(concurrency=2)
    drive_all(rig.stack.client, workload)
    owner = rig.stack.client.post(
        "/api/users", json={"email": f"owner.{workload.run}@example.com", "name": "Owner"}
    ).get_json()["user_id"]
    poison = insert_poison_order(rig, owner)
    expected_dead = len(workload.orders) + 4

    rig.extra.update(phase="before-fix")
    rig.verify(expected_dead=expected_dead)
    max_attempts = rig.stack.settings.outbox_max_attempts
    listed = rig.stack.client.get("/api/dead-letters?limit=500").get_json()
    assert listed["count"] == expected_dead
    webhook_failures = [d for d in listed["items"] if d["event_id"] != poison]
    assert {d["handler"] for d in webhook_failures} == {"forward_to_webhooks"}
    for item in webhook_failures:
        assert item["attempts"] == max_attempts
        assert item["exception_type"].endswith("TransientFailure")
        assert "answered 500" in item["message"]
        detail = rig.stack.client.get(f"/api/dead-letters/{item['id']}").get_json()
        assert "TransientFailure" in detail["traceback"]
    for item in (d for d in listed["items"] if d["event_id"] == poison):
        assert item["attempts"] == 1, "a poison message is not retried"
        assert item["exception_type"].endswith("CorruptMessage")
    retried_500s = sum(1 for call in rig.receiver.calls if call.status == 500)
    assert retried_500s == len(workload.orders) * max_attempts
    assert rig.stack.queue_depths([DEAD_LETTER_QUEUE])[DEAD_LETTER_QUEUE] == expected_dead

    # The fix: the receiver recovers, and an operator repairs the poison payload.
    fixed = True
    repair_event_payload(
        rig.stack.engine,
        poison,
        {
            "user_id": owner,
            "total": "5.00",
            "items": [{"sku": "FIXED", "quantity": 1, "unit_price": "5.00"}],
        },
    )
    dry = rig.stack.client.post("/api/dead-letters/retry", json={"dry_run": True}).get_json()
    assert len(dry["matched"]) == expected_dead and dry["retried"] == []
    result = rig.stack.cli("dead-letters", "retry", "--all")
    assert result.exit_code == 0 and f"re-drove {expected_dead}" in result.output, result.output

    rig.extra.update(phase="after-redrive", redriven=expected_dead)
    rig.verify(expected_dead=0)
    history = rig.stack.client.get("/api/dead-letters?status=all&limit=500").get_json()
    assert history["count"] == expected_dead
    assert {d["status"] for d in history["items"]} == {"redriven"}
    summary = rig.stack.client.get(f"/api/orders/{poison_order_id(rig, poison)}").get_json()
    assert summary["items"] == [{"sku": "FIXED", "quantity": 1, "unit_price": "5.00"}]
    assert_queries_match(rig.stack.client, workload)


def poison_order_id(rig: Rig, event_id: str) -> str:
    with rig.stack.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(events.c.aggregate_id).where(events.c.event_id == event_id)
            ).scalar_one()
        )
