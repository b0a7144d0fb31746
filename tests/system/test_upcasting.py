"""A stored ``order.created`` v1 (before orders carried a currency) is read as v2 in euros
by real handlers on a real worker, by the HTTP events API and by a rebuild; new orders
are stored as v2."""

import uuid

import pytest
import sqlalchemy as sa

from app.application.event_handlers.registry import subscribers
from app.infrastructure.persistence.tables import events, order_items, orders
from tests.support.db_state import store_raw_event, stored_events
from tests.support.fixtures import MakeStack
from tests.support.stack import Stack

pytestmark = pytest.mark.system

COMBOS = [
    pytest.param("sqlite", "rabbitmq", "state", id="sqlite-rabbitmq-state"),
    pytest.param("postgresql", "redis", "events", id="postgresql-redis-events"),
]
V1_PAYLOAD_ITEMS = [{"sku": "old-book", "quantity": 2, "unit_price": "7.50"}]


def insert_v1_order(stack: Stack, user_id: str) -> str:
    """What a deployment from before v2 wrote: state rows, the v1 event, its deliveries."""
    order_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    with stack.engine.begin() as conn:
        conn.execute(
            orders.insert().values(id=order_id, user_id=user_id, status="created", version=1)
        )
        conn.execute(
            order_items.insert().values(
                order_id=order_id, line_no=1, sku="old-book", quantity=2, unit_price_cents=750
            )
        )
        store_raw_event(
            conn,
            event_id=event_id,
            aggregate_id=order_id,
            payload={"user_id": user_id, "items": V1_PAYLOAD_ITEMS, "total": "15.00"},
            handlers=subscribers("order.created"),
            correlation_id="legacy-order",
        )
    return order_id


@pytest.mark.parametrize(("db", "broker", "order_store"), COMBOS)
def test_stored_v1_orders_read_as_v2_everywhere(
    make_stack: MakeStack, db: str, broker: str, order_store: str
) -> None:
    stack = make_stack(db, broker, order_store=order_store)
    client = stack.client
    user_id = client.post("/api/users", json={"email": "v1@example.com", "name": "Old"}).get_json()[
        "user_id"
    ]
    legacy = insert_v1_order(stack, user_id)
    fresh = client.post(
        "/api/orders",
        json={
            "user_id": user_id,
            "currency": "USD",
            "items": [{"sku": "pen", "quantity": 1, "unit_price": "2.00"}],
        },
    ).get_json()["order_id"]
    stack.start_celery()
    stats = stack.wait_drained(timeout=90)
    assert stats["dead"] == 0, stats

    pay = client.post(f"/api/orders/{legacy}/pay", json={"amount": "15.00"})
    assert pay.status_code == 200, pay.get_json()
    stats = stack.wait_drained(timeout=60)
    assert stats["dead"] == 0, stats

    summary = client.get(f"/api/orders/{legacy}").get_json()
    assert (summary["currency"], summary["total"], summary["status"]) == ("EUR", "15.00", "paid")
    assert client.get(f"/api/orders/{fresh}").get_json()["currency"] == "USD"
    assert client.get(f"/api/users/{user_id}").get_json()["loyalty_points"] == 15

    stored = {
        e["aggregate_id"]: e
        for e in stored_events(stack.engine)
        if e["event_type"] == "order.created"
    }
    assert stored[legacy]["schema_version"] == 1 and "currency" not in stored[legacy]["payload"]
    assert stored[fresh]["schema_version"] == 2 and stored[fresh]["payload"]["currency"] == "USD"

    (served,) = client.get(f"/api/events?aggregate_id={legacy}&type=order.created").get_json()[
        "items"
    ]
    assert served["version"] == 2
    assert served["payload"] == {
        "user_id": user_id,
        "items": V1_PAYLOAD_ITEMS,
        "total": "15.00",
        "currency": "EUR",
    }

    confirmation = [m for m in stack.emails() if legacy in str(m["Subject"])]
    assert any("Total: 15.00 EUR" in m.get_payload() for m in confirmation)

    live = summary
    result = stack.cli("projections", "rebuild")
    assert result.exit_code == 0, result.output
    assert client.get(f"/api/orders/{legacy}").get_json() == live
    with stack.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 5
    verified = stack.cli("aggregates", "verify")
    assert verified.exit_code == 0 and "checked 2 order(s), mismatched 0" in verified.output
