"""A handler refused by the domain for good (``NotFound``) is dead-lettered on its first
attempt by a real worker, while the event's other handlers complete."""

import uuid

import pytest

from tests.support.db_state import store_raw_event
from tests.support.fixtures import MakeStack

pytestmark = pytest.mark.system

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
    order_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    with stack.engine.begin() as conn:
        store_raw_event(
            conn,
            event_id=event_id,
            aggregate_id=order_id,
            # Nobody registered this user: the confirmation has no one to write to.
            payload={
                "user_id": str(uuid.uuid4()),
                "total": "5.00",
                "items": [{"sku": "A", "quantity": 1, "unit_price": "5.00"}],
            },
            handlers=SUBSCRIBERS,
            correlation_id="orphan",
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
