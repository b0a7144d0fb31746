"""The whole chain in eager mode: command -> events -> handlers -> projections and effects."""

import json
import mailbox
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app.infrastructure.envelope import Envelope
from app.infrastructure.persistence.tables import events
from tests.integration.order_stores import ON_BOTH_ORDER_STORES
from tests.support.http_receiver import HttpReceiver
from tests.support.inprocess import Api, AppFactory, container, unfinished_deliveries

pytestmark = ON_BOTH_ORDER_STORES


def _events(app: Flask, correlation_id: str | None = None) -> list[Any]:
    query = sa.select(events).order_by(events.c.position)
    if correlation_id is not None:
        query = query.where(events.c.correlation_id == correlation_id)
    with container(app).engine.connect() as conn:
        return list(conn.execute(query).all())


def test_payment_awards_loyalty_points_through_the_reaction_chain(
    app: Flask, api: Api, user: dict[str, Any], order: dict[str, Any]
) -> None:
    api.pay(order, headers={"X-Correlation-ID": "checkout-1"})
    profile = api.get(f"/api/users/{user['user_id']}")
    assert profile["loyalty_points"] == 30
    assert profile["total_spent"] == "30.97"
    chain = _events(app, "checkout-1")
    assert [e.event_type for e in chain] == [
        "order.payment_processed",
        "user.loyalty_points_awarded",
    ]
    payment, award = chain
    assert payment.causation_id == "checkout-1"
    assert award.causation_id == payment.event_id
    assert award.aggregate_id == user["user_id"]
    assert award.payload["points"] == 30
    assert unfinished_deliveries(app) == []


def test_cancelling_a_paid_order_revokes_the_points(
    app: Flask, api: Api, user: dict[str, Any], order: dict[str, Any]
) -> None:
    api.pay(order)
    api.cancel(order, reason="returned")
    profile = api.get(f"/api/users/{user['user_id']}")
    assert (profile["loyalty_points"], profile["total_spent"], profile["order_count"]) == (
        0,
        "0.00",
        1,
    )
    assert api.get(f"/api/orders/{order['order_id']}")["status"] == "cancelled"
    revoked = [e for e in _events(app) if e.event_type == "user.loyalty_points_revoked"]
    [cancelled] = [e for e in _events(app) if e.event_type == "order.cancelled"]
    assert [(r.payload["points"], r.causation_id) for r in revoked] == [(30, cancelled.event_id)]
    assert unfinished_deliveries(app) == []


def test_cancelling_an_unpaid_order_revokes_nothing(
    app: Flask, api: Api, user: dict[str, Any], order: dict[str, Any]
) -> None:
    api.cancel(order)
    assert not [e for e in _events(app) if e.event_type.startswith("user.loyalty")]
    assert api.get(f"/api/users/{user['user_id']}")["loyalty_points"] == 0


def test_many_orders_add_up_exactly(app: Flask, api: Api) -> None:
    users = [api.register(f"user{n}@example.com", f"User {n}") for n in range(3)]
    expected_points = dict.fromkeys((u["user_id"] for u in users), 0)
    expected_spent = dict.fromkeys(expected_points, Decimal("0.00"))
    for n in range(12):
        uid = users[n % 3]["user_id"]
        order = api.create_order(uid, ("a", n + 1, "3.35"), ("b", 1, f"{n}.99"))
        if n % 4 == 3:
            api.cancel(order)
            continue
        api.pay(order)
        if n % 4 == 2:
            api.cancel(order)
            continue
        if n % 2:
            api.ship(order)
        expected_points[uid] += int(Decimal(order["total"]))
        expected_spent[uid] += Decimal(order["total"])
    for uid, points in expected_points.items():
        profile = api.get(f"/api/users/{uid}")
        assert profile["loyalty_points"] == points
        assert profile["total_spent"] == str(expected_spent[uid])
        assert profile["order_count"] == 4
    assert unfinished_deliveries(app) == []


def _maildir(app: Flask) -> list[Any]:
    return list(mailbox.Maildir(Path(app.instance_path) / "maildir", create=False))


def test_the_receipt_email_names_the_order_currency(
    app: Flask, api: Api, user: dict[str, Any]
) -> None:
    body = {
        "user_id": user["user_id"],
        "items": [{"sku": "book", "quantity": 1, "unit_price": "9.99"}],
        "currency": "USD",
    }
    created = api.client.post("/api/orders", json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    order = created.get_json()
    api.pay(order)
    bodies = {m["Subject"]: m.get_payload() for m in _maildir(app)}
    oid = order["order_id"]
    assert "Total: 9.99 USD" in bodies[f"Order {oid} confirmed"]
    assert "we received your payment of 9.99 USD." in bodies[f"Receipt for order {oid}"]


def test_emails_land_in_the_instance_maildir(
    app: Flask, api: Api, user: dict[str, Any], order: dict[str, Any]
) -> None:
    api.pay(order)
    api.ship(order)
    messages = _maildir(app)
    subjects = sorted(m["Subject"] for m in messages)
    oid = order["order_id"]
    assert subjects == sorted(
        [
            "Welcome to outboxflow",
            f"Order {oid} confirmed",
            f"Receipt for order {oid}",
            f"Order {oid} shipped",
        ]
    )
    assert {m["To"] for m in messages} == {"ada@example.com"}
    keys = {m["X-Idempotency-Key"] for m in messages}
    assert len(keys) == 4
    handlers = {key.split(":", 1)[1] for key in keys}
    assert handlers == {
        "send_welcome_email",
        "send_order_confirmation",
        "send_payment_receipt",
        "send_shipping_notice",
    }
    event_ids = {e.event_id for e in _events(app)}
    assert {key.split(":", 1)[0] for key in keys} <= event_ids


def test_webhooks_and_slack_receive_every_event_signed(
    make_app: AppFactory, receiver: HttpReceiver
) -> None:
    app = make_app(
        WEBHOOK_URLS=f"{receiver.url('/hook-a')},{receiver.url('/hook-b')}",
        WEBHOOK_SECRET="e2e-secret",
        SLACK_WEBHOOK_URL=receiver.url("/slack"),
    )
    api = Api(app.test_client())
    user = api.register()
    order = api.create_order(user["user_id"])
    api.pay(order)
    hooks = [r for r in receiver.requests if r.path.startswith("/hook")]
    slack = [r for r in receiver.requests if r.path == "/slack"]
    stored = {e.event_id: e for e in _events(app)}
    assert len(stored) == 4  # registered, created, paid, points awarded
    assert sorted(r.path for r in hooks) == ["/hook-a"] * 4 + ["/hook-b"] * 4
    for request in hooks:
        assert request.signed_with("e2e-secret")
        assert not request.signed_with("another-secret")
        envelope = Envelope.from_dict(json.loads(request.body))
        assert envelope.event_id in stored
        assert envelope.correlation_id == stored[envelope.event_id].correlation_id
        assert request.headers["Idempotency-Key"] == f"{envelope.event_id}:forward_to_webhooks"
    [post] = slack
    assert order["order_id"] in json.loads(post.body)["text"]
    assert unfinished_deliveries(app) == []
