"""GET endpoints: projections as the contract shapes them, and operational endpoints."""

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.inprocess import Api, unfinished_deliveries
from tests.support.refusals import assert_refused

UNKNOWN = "2f0d7d0e-6f0a-4c4e-9d7a-2d9f1c3b4a5e"


def test_get_order_returns_the_projection(
    api: Api, user: dict[str, Any], order: dict[str, Any]
) -> None:
    assert api.get(f"/api/orders/{order['order_id']}") == {
        "order_id": order["order_id"],
        "user_id": user["user_id"],
        "status": "created",
        "total": "30.97",
        "items": [
            {"sku": "book", "quantity": 2, "unit_price": "12.50"},
            {"sku": "pen", "quantity": 3, "unit_price": "1.99"},
        ],
        "version": 1,
        "currency": "EUR",
    }


def test_order_projection_follows_each_step(api: Api, order: dict[str, Any]) -> None:
    path = f"/api/orders/{order['order_id']}"
    api.pay(order)
    assert (api.get(path)["status"], api.get(path)["version"]) == ("paid", 2)
    api.ship(order)
    assert (api.get(path)["status"], api.get(path)["version"]) == ("shipped", 3)


def test_money_in_responses_is_always_a_two_place_string(api: Api, user: dict[str, Any]) -> None:
    order = api.create_order(user["user_id"], ("a", 1, 5), ("b", 3, 0.1))
    assert order["total"] == "5.30"
    summary = api.get(f"/api/orders/{order['order_id']}")
    assert summary["total"] == "5.30"
    assert [i["unit_price"] for i in summary["items"]] == ["5.00", "0.10"]
    api.pay(order)
    assert api.get(f"/api/users/{user['user_id']}")["total_spent"] == "5.30"


def test_get_user_returns_the_profile(api: Api, user: dict[str, Any]) -> None:
    assert api.get(f"/api/users/{user['user_id']}") == {
        "user_id": user["user_id"],
        "email": "ada@example.com",
        "name": "Ada",
        "order_count": 0,
        "total_spent": "0.00",
        "loyalty_points": 0,
    }


def test_user_profile_counts_orders_and_spending_over_paid_orders(
    api: Api, user: dict[str, Any]
) -> None:
    uid = user["user_id"]
    paid = api.create_order(uid, ("a", 1, "10.00"))
    shipped = api.create_order(uid, ("b", 2, "7.25"))
    api.create_order(uid, ("c", 1, "99.00"))
    cancelled = api.create_order(uid, ("d", 1, "3.00"))
    api.pay(paid)
    api.pay(shipped)
    api.ship(shipped)
    api.cancel(cancelled)
    profile = api.get(f"/api/users/{uid}")
    assert profile["order_count"] == 4
    assert profile["total_spent"] == "24.50"
    assert profile["loyalty_points"] == 10 + 14


def test_user_orders_lists_the_summaries(api: Api, user: dict[str, Any]) -> None:
    uid = user["user_id"]
    assert api.get(f"/api/users/{uid}/orders") == []
    first = api.create_order(uid, ("a", 1, "1.00"))
    second = api.create_order(uid, ("b", 1, "2.00"))
    listed = api.get(f"/api/users/{uid}/orders")
    assert sorted(o["order_id"] for o in listed) == sorted([first["order_id"], second["order_id"]])
    for summary in listed:
        assert summary == api.get(f"/api/orders/{summary['order_id']}")


def test_other_users_orders_are_not_listed(api: Api, user: dict[str, Any]) -> None:
    other = api.register("bob@example.com", "Bob")
    api.create_order(other["user_id"])
    assert api.get(f"/api/users/{user['user_id']}/orders") == []


@pytest.mark.parametrize(
    "path",
    [
        f"/api/orders/{UNKNOWN}",
        "/api/orders/not-a-uuid",
        f"/api/users/{UNKNOWN}",
        "/api/users/42",
        f"/api/users/{UNKNOWN}/orders",
        "/api/users/x/orders",
    ],
)
def test_unknown_resources_are_404(client: FlaskClient, path: str) -> None:
    assert_refused(client.get(path), 404)


def test_outbox_stats_shape(
    api: Api, client: FlaskClient, app: Flask, order: dict[str, Any]
) -> None:
    api.pay(order)
    response = client.get("/api/outbox/stats")
    assert response.status_code == 200
    stats = response.get_json()
    assert {
        "pending",
        "dispatched",
        "done",
        "dead",
        "oldest_pending_age_seconds",
        "by_handler",
    } <= set(stats)
    assert all(isinstance(stats[k], int) for k in ("pending", "dispatched", "done", "dead"))
    assert isinstance(stats["oldest_pending_age_seconds"], int | float)
    assert (stats["pending"], stats["dispatched"], stats["dead"]) == (0, 0, 0)
    assert unfinished_deliveries(app) == []
    # register (2) + create (3) + pay (3) + award (1): no WEBHOOK_URLS, no webhook handler
    assert stats["done"] == 9
    by_handler = stats["by_handler"]
    assert "forward_to_webhooks" not in by_handler
    assert by_handler["award_loyalty_points"]["done"] == 1
    for counts in by_handler.values():
        assert {"pending", "dispatched", "done", "dead"} <= set(counts)
    assert sum(c["done"] for c in by_handler.values()) == stats["done"]


def test_outbox_stats_when_empty(client: FlaskClient) -> None:
    stats = client.get("/api/outbox/stats").get_json()
    assert (stats["pending"], stats["done"], stats["by_handler"]) == (0, 0, {})
    assert stats["oldest_pending_age_seconds"] == 0


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.headers["X-Correlation-ID"]


@pytest.mark.parametrize("value", ["", "-1", "1.5", "abc", "\u00b2", "9" * 20, str(2**63)])
def test_a_malformed_min_position_is_422(client: FlaskClient, value: str) -> None:
    response = client.get(
        "/api/orders/8b1f9a52-0000-4000-8000-000000000000",
        headers={"X-Min-Position": value.encode().decode("latin-1")},
    )
    assert response.status_code == 422
    assert "X-Min-Position" in response.get_json()["fields"]


def test_commands_answer_with_their_last_event_position(client: FlaskClient, api: Api) -> None:
    user = client.post("/api/users", json={"email": "p@example.com", "name": "P"})
    assert user.headers["X-Event-Position"] == "1"
    order = client.post(
        "/api/orders",
        json={
            "user_id": user.get_json()["user_id"],
            "items": [{"sku": "a", "quantity": 1, "unit_price": "1.00"}],
        },
    )
    assert order.headers["X-Event-Position"] == "2"
    paid = client.post(f"/api/orders/{order.get_json()['order_id']}/pay", json={"amount": "1"})
    assert paid.headers["X-Event-Position"] == "3"  # the reaction's award comes after it
    served = client.get(f"/api/users/{user.get_json()['user_id']}", headers={"X-Min-Position": "4"})
    assert served.status_code == 200 and served.get_json()["loyalty_points"] == 1
    shipped = client.post(f"/api/orders/{order.get_json()['order_id']}/ship", json={})
    assert shipped.headers["X-Event-Position"] == "5"
    other = api.create_order(user.get_json()["user_id"])
    cancelled = client.post(f"/api/orders/{other['order_id']}/cancel", json={})
    assert cancelled.headers["X-Event-Position"] == "7"
