"""A handler refused by the domain for good (``NotFound``) is dead-lettered on its first
attempt by a real worker, while the event's other handlers complete."""

import uuid
from datetime import UTC, datetime

import pytest

from app.infrastructure.persistence.tables import events, outbox
from tests.support.fixtures import MakeStack

pytestmark = pytest.mark.processes

COMBOS = [
    pytest.param("sqlite", "rabbitmq", id="sqlite-rabbitmq"),
    pytest.param("postgresql", "redis", id="postgresql-redis"),
]
SUBSCRIBERS = ("project_order_summary", "send_order_confirmation")


@pytest.mark.parametrize(("db", "broker"), COMBOS)
def test_not_found_is_dead_lettered_on_the_first_attempt(
    make_stack: MakeStack, db: str, broker: str
) -> None:
    stack = make_stack(db, broker, outbox_max_attempts=8, outbox_retry_backoff_seconds=1)
    order_id, event_id, now = str(uuid.uuid4()), str(uuid.uuid4()), datetime.now(UTC)
    with stack.engine.begin() as conn:
        conn.execute(
            events.insert().values(
                event_id=event_id,
                event_type="order.created",
                schema_version=1,
                aggregate_type="order",
                aggregate_id=order_id,
                aggregate_version=1,
                # Nobody registered this user: the confirmation has no one to write to.
                payload={
                    "user_id": str(uuid.uuid4()),
                    "total": "5.00",
                    "items": [{"sku": "A", "quantity": 1, "unit_price": "5.00"}],
                },
                correlation_id="orphan",
                causation_id="orphan",
                occurred_at=now,
            )
        )
        conn.execute(
            outbox.insert(),
            [
                {
                    "event_id": event_id,
                    "handler": h,
                    "status": "pending",
                    "available_at": now,
                    "created_at": now,
                }
                for h in SUBSCRIBERS
            ],
        )
    stack.start_celery()

    stats = stack.wait_drained(timeout=60)

    assert stats["by_handler"]["project_order_summary"]["done"] == 1
    assert stats["by_handler"]["send_order_confirmation"]["dead"] == 1
    (dead,) = stack.client.get("/api/dead-letters").get_json()["items"]
    assert dead["handler"] == "send_order_confirmation"
    assert dead["attempts"] == 1
    assert dead["exception_type"].endswith("NotFound")
    assert "has no contact details" in dead["message"]
