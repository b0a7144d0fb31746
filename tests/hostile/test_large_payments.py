"""The largest payments the API accepts earn their loyalty points on every database.

The finding: a 3,000,000,000.00 order was accepted, then ``award_loyalty_points`` died with
"integer out of range" on PostgreSQL on every re-drive (SQLite's integers hid it).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.support.fixtures import DATABASE_KINDS, MakeDatabase
from tests.support.inprocess import build_app, container, unfinished_deliveries

LARGEST_UNIT_PRICE = "999999999999.99"
"""Just under the domain's cap on an amount (10^12)."""


@pytest.fixture(params=DATABASE_KINDS)
def app(
    request: pytest.FixtureRequest, tmp_path: Path, make_database: MakeDatabase
) -> Iterator[Flask]:
    database_url = None if request.param == "sqlite" else make_database(request.param).url
    built = build_app(tmp_path, {}, database_url=database_url)
    yield built
    container(built).engine.dispose()


def _pay_order(app: Flask, user_id: str, unit_price: str) -> None:
    client = app.test_client()
    order = client.post(
        "/api/orders",
        json={
            "user_id": user_id,
            "items": [{"sku": "gold", "quantity": 1, "unit_price": unit_price}],
        },
    )
    assert order.status_code == 201, order.get_data(as_text=True)
    paid = client.post(
        f"/api/orders/{order.get_json()['order_id']}/pay",
        json={"amount": order.get_json()["total"]},
    )
    assert paid.status_code == 200, paid.get_data(as_text=True)


def test_points_past_32_bits_are_awarded_and_projected(app: Flask) -> None:
    client = app.test_client()
    user = client.post("/api/users", json={"email": "rich@example.com", "name": "Rich"}).get_json()

    _pay_order(app, user["user_id"], "3000000000.00")
    for _ in range(3):
        _pay_order(app, user["user_id"], LARGEST_UNIT_PRICE)

    expected = 3_000_000_000 + 3 * 999_999_999_999
    profile = client.get(f"/api/users/{user['user_id']}").get_json()
    assert profile["loyalty_points"] == expected, profile
    assert client.get("/api/dead-letters").get_json()["items"] == []
    assert unfinished_deliveries(app) == []
