"""``flask aggregates verify`` folds every order's events and compares with its state;
ORDER_STORE=events makes commands load orders by that fold."""

from typing import Any

import pytest
from flask import Flask

from app.infrastructure.persistence.tables import orders
from tests.support.inprocess import Api, AppFactory, container


def verify(app: Flask) -> Any:
    return app.test_cli_runner().invoke(args=["aggregates", "verify"])


def test_a_consistent_write_side_passes(app: Flask, api: Api, user: dict[str, Any]) -> None:
    for n in range(3):
        order = api.create_order(user["user_id"])
        if n:
            api.pay(order)
        if n == 2:
            api.ship(order)
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert "checked 3 order(s), mismatched 0" in result.output


def test_a_state_row_that_disagrees_with_its_events_fails(
    app: Flask, api: Api, order: dict[str, Any]
) -> None:
    api.create_order(api.register("bob@example.com", "Bob")["user_id"])
    with container(app).engine.begin() as conn:
        conn.execute(
            orders.update().where(orders.c.id == order["order_id"]).values(status="shipped")
        )

    result = verify(app)

    assert result.exit_code == 1
    assert "checked 2 order(s), mismatched 1" in result.output
    assert f"order {order['order_id']}: status is 'shipped', its events say 'created'" in (
        result.output
    )


@pytest.mark.parametrize(("store", "expected"), [("state", 409), ("events", 200)])
def test_the_event_store_is_where_commands_load_orders_from(
    make_app: AppFactory, store: str, expected: int
) -> None:
    app = make_app(ORDER_STORE=store)
    api = Api(app.test_client())
    order = api.create_order(api.register()["user_id"])
    with container(app).engine.begin() as conn:  # the state row claims it shipped already
        conn.execute(
            orders.update().where(orders.c.id == order["order_id"]).values(status="shipped")
        )

    response = api.client.post(f"/api/orders/{order['order_id']}/pay", json={"amount": "30.97"})

    assert response.status_code == expected, response.get_json()


def test_an_unknown_order_store_is_refused(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match="ORDER_STORE must be state or events"):
        make_app(ORDER_STORE="memory")
