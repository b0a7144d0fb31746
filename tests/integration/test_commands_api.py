"""POST endpoints of the issue-2 contract: success bodies, refusals, nothing written."""

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.order_stores import ON_BOTH_ORDER_STORES
from tests.support.inprocess import Api, row_counts, unfinished_deliveries
from tests.support.refusals import NoWrites, assert_payment_refused, assert_refused

pytestmark = ON_BOTH_ORDER_STORES

UNKNOWN = "2f0d7d0e-6f0a-4c4e-9d7a-2d9f1c3b4a5e"
ITEM = {"sku": "book", "quantity": 1, "unit_price": "9.99"}


def _is_uuid(value: object) -> bool:
    return isinstance(value, str) and str(uuid.UUID(value)) == value


# --- POST /api/users -------------------------------------------------------------------


def test_register_user(app: Flask, client: FlaskClient) -> None:
    before = row_counts(app)
    response = client.post("/api/users", json={"email": "Ada@Example.com", "name": "Ada L."})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"user_id", "email", "name"}
    assert _is_uuid(body["user_id"])
    assert (body["email"], body["name"]) == ("Ada@Example.com", "Ada L.")
    after = row_counts(app)
    assert after["users"] == before["users"] + 1
    assert after["events"] == before["events"] + 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "name"}),
        ({"email": "ada@example.com"}, {"name"}),
        ({"name": "Ada"}, {"email"}),
        ({"email": "not-an-email", "name": "Ada"}, {"email"}),
        ({"email": 42, "name": "Ada"}, {"email"}),
        ({"email": "ada@example.com", "name": ""}, {"name"}),
        ({"email": "ada@example.com", "name": "   "}, {"name"}),
        ({"email": "ada@example.com", "name": "x" * 201}, {"name"}),
        ({"email": "ada@example.com", "name": None}, {"name"}),
        ({"email": "ada@example.com", "name": ["Ada"]}, {"name"}),
        ({"email": "ada@example.com", "name": "Ada", "admin": True}, {"admin"}),
    ],
)
def test_register_refuses_invalid_fields(
    app: Flask, client: FlaskClient, body: dict[str, Any], fields: set[str]
) -> None:
    with NoWrites(app):
        refusal = assert_refused(client.post("/api/users", json=body), 422)
    assert set(refusal["fields"]) == fields


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@example.Com"])
def test_register_refuses_a_taken_email_case_insensitively(
    app: Flask, client: FlaskClient, user: dict[str, Any], email: str
) -> None:
    with NoWrites(app):
        assert_refused(client.post("/api/users", json={"email": email, "name": "Eve"}), 409)


# --- POST /api/orders ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prices", "total"),
    [
        (["12.50", "1.99"], "30.97"),
        ([12.5, 1.99], "30.97"),
        ([12, "1.99"], "29.97"),
        (["0", 0], "0.00"),
        (["0.10", 0.1], "0.50"),
    ],
)
def test_create_order_accepts_money_as_string_or_number(
    api: Api, client: FlaskClient, user: dict[str, Any], prices: list[Any], total: str
) -> None:
    response = client.post(
        "/api/orders",
        json={
            "user_id": user["user_id"],
            "items": [
                {"sku": "book", "quantity": 2, "unit_price": prices[0]},
                {"sku": "pen", "quantity": 3, "unit_price": prices[1]},
            ],
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"order_id", "status", "total"}
    assert _is_uuid(body["order_id"])
    assert (body["status"], body["total"]) == ("created", total)


def _order_body(user_id: str, **item: Any) -> dict[str, Any]:
    return {"user_id": user_id, "items": [{**ITEM, **item}]}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": "2"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 1_000_001}, "quantity"),
        ({"unit_price": "-0.01"}, "unit_price"),
        ({"unit_price": "1.001"}, "unit_price"),
        ({"unit_price": "ten"}, "unit_price"),
        ({"unit_price": True}, "unit_price"),
        ({"unit_price": None}, "unit_price"),
        ({"unit_price": [1]}, "unit_price"),
        ({"unit_price": "NaN"}, "unit_price"),
        ({"unit_price": "Infinity"}, "unit_price"),
        ({"unit_price": "1000000000000"}, "unit_price"),
        ({"sku": ""}, "sku"),
        ({"sku": "x" * 65}, "sku"),
        ({"sku": 7}, "sku"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_order_refuses_bad_line_items(
    app: Flask, client: FlaskClient, user: dict[str, Any], patch: dict[str, Any], field: str
) -> None:
    with NoWrites(app):
        refusal = assert_refused(
            client.post("/api/orders", json=_order_body(user["user_id"], **patch)), 422
        )
    assert field in str(refusal["fields"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [ITEM]}, "user_id"),
        ({"user_id": "nope", "items": [ITEM]}, "user_id"),
        ({"user_id": 5, "items": [ITEM]}, "user_id"),
        ({"user_id": "USER"}, "items"),
        ({"user_id": "USER", "items": []}, "items"),
        ({"user_id": "USER", "items": {}}, "items"),
        ({"user_id": "USER", "items": [ITEM] * 101}, "items"),
        ({"user_id": "USER", "items": [ITEM], "coupon": "FREE"}, "coupon"),
        ({"user_id": "USER", "items": ["book"]}, "items"),
    ],
)
def test_create_order_refuses_invalid_bodies(
    app: Flask, client: FlaskClient, user: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    body = {k: (user["user_id"] if v == "USER" else v) for k, v in body.items()}
    with NoWrites(app):
        refusal = assert_refused(client.post("/api/orders", json=body), 422)
    assert field in refusal["fields"]


def test_create_order_blank_sku_is_refused_by_the_domain(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    with NoWrites(app):
        refusal = assert_refused(
            client.post("/api/orders", json=_order_body(user["user_id"], sku="   ")), 422
        )
    assert "items" in refusal["fields"]


def test_create_order_for_an_unknown_user_is_404(app: Flask, client: FlaskClient) -> None:
    with NoWrites(app):
        assert_refused(client.post("/api/orders", json=_order_body(UNKNOWN)), 404)


def test_the_largest_order_the_fields_allow_is_refused_or_fully_processed(
    app: Flask, api: Api, client: FlaskClient, user: dict[str, Any]
) -> None:
    """Whatever the API accepts, every handler must be able to process (money, counts)."""
    item = {"sku": "gold", "quantity": 1_000_000, "unit_price": "999999999999.99"}
    body = {"user_id": user["user_id"], "items": [item] * 100}
    before = row_counts(app)
    response = client.post("/api/orders", json=body)
    if response.status_code != 201:
        assert_refused(response, 422)
        assert row_counts(app) == before
        return
    order = response.get_json()
    assert unfinished_deliveries(app) == []
    assert api.get(f"/api/orders/{order['order_id']}")["total"] == order["total"]


# --- POST /api/orders/<id>/pay|ship|cancel -------------------------------------------------


@pytest.mark.parametrize("amount", ["30.97", 30.97, "30.970"])
def test_pay_with_the_exact_total(client: FlaskClient, order: dict[str, Any], amount: Any) -> None:
    response = client.post(f"/api/orders/{order['order_id']}/pay", json={"amount": amount})
    assert response.status_code == 200
    assert response.get_json() == {"order_id": order["order_id"], "status": "paid"}


@pytest.mark.parametrize("amount", ["30.96", 31, "0", 30.98])
def test_pay_a_wrong_amount_is_422(
    app: Flask, client: FlaskClient, order: dict[str, Any], amount: Any
) -> None:
    assert_payment_refused(app, client, order, amount)


@pytest.mark.parametrize(
    "body", [{}, {"amount": None}, {"amount": True}, {"amount": "30.97", "tip": "1"}]
)
def test_pay_invalid_body_is_422(
    app: Flask, client: FlaskClient, order: dict[str, Any], body: dict[str, Any]
) -> None:
    with NoWrites(app):
        assert_refused(client.post(f"/api/orders/{order['order_id']}/pay", json=body), 422)


@pytest.mark.parametrize("action", ["pay", "ship", "cancel"])
@pytest.mark.parametrize("order_id", [UNKNOWN, "not-a-uuid", "12345", UNKNOWN.upper()])
def test_commands_on_unknown_orders_are_404(
    app: Flask, client: FlaskClient, action: str, order_id: str
) -> None:
    body = {"pay": {"amount": "1.00"}, "ship": {}, "cancel": {"reason": "x"}}[action]
    with NoWrites(app):
        assert_refused(client.post(f"/api/orders/{order_id}/{action}", json=body), 404)


def test_ship_a_paid_order(api: Api, client: FlaskClient, order: dict[str, Any]) -> None:
    api.pay(order)
    response = client.post(f"/api/orders/{order['order_id']}/ship", json={})
    assert response.status_code == 200
    assert response.get_json() == {"order_id": order["order_id"], "status": "shipped"}


def test_ship_accepts_an_empty_body(api: Api, client: FlaskClient, order: dict[str, Any]) -> None:
    api.pay(order)
    response = client.post(f"/api/orders/{order['order_id']}/ship")
    assert response.status_code == 200
    assert response.get_json()["status"] == "shipped"


def test_ship_refuses_unknown_fields(
    app: Flask, client: FlaskClient, order: dict[str, Any]
) -> None:
    with NoWrites(app):
        assert_refused(
            client.post(f"/api/orders/{order['order_id']}/ship", json={"carrier": "x"}), 422
        )


@pytest.mark.parametrize("body", [{"reason": "changed my mind"}, {}, None])
def test_cancel_a_created_order(
    client: FlaskClient, order: dict[str, Any], body: dict[str, Any] | None
) -> None:
    url = f"/api/orders/{order['order_id']}/cancel"
    response = client.post(url, json=body) if body is not None else client.post(url)
    assert response.status_code == 200
    assert response.get_json() == {"order_id": order["order_id"], "status": "cancelled"}


@pytest.mark.parametrize("body", [{"reason": 5}, {"reason": "x" * 501}, {"why": "x"}])
def test_cancel_invalid_body_is_422(
    app: Flask, client: FlaskClient, order: dict[str, Any], body: dict[str, Any]
) -> None:
    with NoWrites(app):
        assert_refused(client.post(f"/api/orders/{order['order_id']}/cancel", json=body), 422)


@pytest.mark.parametrize(
    ("history", "action"),
    [
        ([], "ship"),
        (["pay"], "pay"),
        (["pay", "ship"], "pay"),
        (["pay", "ship"], "ship"),
        (["pay", "ship"], "cancel"),
        (["cancel"], "pay"),
        (["cancel"], "ship"),
        (["cancel"], "cancel"),
        (["pay", "cancel"], "cancel"),
    ],
)
def test_wrong_state_is_409(
    app: Flask,
    api: Api,
    client: FlaskClient,
    order: dict[str, Any],
    history: list[str],
    action: str,
) -> None:
    for step in history:
        getattr(api, step)(order)
    body = {"pay": {"amount": order["total"]}, "ship": {}, "cancel": {"reason": ""}}[action]
    with NoWrites(app):
        assert_refused(client.post(f"/api/orders/{order['order_id']}/{action}", json=body), 409)


def test_a_wrong_state_beats_a_wrong_amount(
    app: Flask, api: Api, client: FlaskClient, order: dict[str, Any]
) -> None:
    api.pay(order)
    with NoWrites(app):
        assert_refused(
            client.post(f"/api/orders/{order['order_id']}/pay", json={"amount": "1.00"}), 409
        )
