"""Property: after any workload of commands, a rebuild gives exactly the live projections."""

import uuid
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.infrastructure.persistence.tables import order_summaries, user_profiles
from tests.support.db_state import table_rows
from tests.support.inprocess import container

PRICES = st.sampled_from(["0.00", "0.99", "1", "12.50", "999.99"])
LINE = st.fixed_dictionaries(
    {"sku": st.sampled_from(["a", "b", "c"]), "quantity": st.integers(1, 5), "unit_price": PRICES}
)
STEP = st.one_of(
    st.tuples(st.just("register")),
    st.tuples(st.just("create"), st.integers(0, 5), st.lists(LINE, min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["pay", "ship", "cancel"]), st.integers(0, 30)),
)


def run(app: Flask, steps: list[tuple[Any, ...]]) -> None:
    client = app.test_client()
    users: list[str] = []
    orders: list[dict[str, Any]] = []
    for step in steps:
        if step[0] == "register":
            n = len(users)
            # Every example shares the app: a fresh address per registration, or a later
            # example collides with an earlier one's user (id() of a list gets reused).
            body = {"email": f"p{n}.{uuid.uuid4().hex}@example.com", "name": f"P{n}"}
            registered = client.post("/api/users", json=body)
            assert registered.status_code == 201, registered.get_data(as_text=True)
            users.append(registered.get_json()["user_id"])
        elif step[0] == "create" and users:
            body = {"user_id": users[step[1] % len(users)], "items": step[2]}
            orders.append(client.post("/api/orders", json=body).get_json())
        elif orders:
            order = orders[step[1] % len(orders)]
            body = {"amount": order["total"]} if step[0] == "pay" else {}
            client.post(f"/api/orders/{order['order_id']}/{step[0]}", json=body)


def projections(app: Flask) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    engine = container(app).engine
    return table_rows(engine, order_summaries), table_rows(engine, user_profiles)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, max_size=25), batch_size=st.integers(1, 50))
def test_rebuild_equals_live_after_any_workload(
    app: Flask, steps: list[tuple[Any, ...]], batch_size: int
) -> None:
    run(app, steps)
    live = projections(app)

    result = app.test_cli_runner().invoke(
        args=["projections", "rebuild", "--batch-size", str(batch_size)]
    )

    assert result.exit_code == 0, result.output
    assert projections(app) == live
