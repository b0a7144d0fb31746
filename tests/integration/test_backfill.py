"""``flask handlers backfill``: a handler that missed events gets exactly one delivery of
each, on PostgreSQL and SQLite, while commands keep arriving and while a transaction that
allocated its event's position before the backfill began commits only after the backfill
has read past it. No other handler gains or loses a row; a second run adds nothing."""

import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.container import container_of
from app.infrastructure.persistence.backfill import Backfill
from app.infrastructure.persistence.tables import events, outbox
from tests.support.db_state import begin_late_event
from tests.support.fixtures import MakeDatabase
from tests.support.inprocess import build_app

HANDLER = "forward_to_webhooks"
ITEMS = [{"sku": "B-1", "quantity": 1, "unit_price": "3.00"}]


def command_app(tmp_path: Path, database_url: str) -> Flask:
    """Commands only write their pending deliveries: nothing runs them here."""
    return build_app(
        tmp_path / "app",
        {"WEBHOOK_URLS": "http://127.0.0.1:9/hook", "WEBHOOK_SECRET": "backfill-test"},
        eager=False,
        database_url=database_url,
    )


def record_history(app: Flask, orders: int) -> None:
    client = app.test_client()
    user = client.post("/api/users", json={"email": "b@example.com", "name": "B"}).get_json()
    for _ in range(orders):
        order = client.post("/api/orders", json={"user_id": user["user_id"], "items": ITEMS})
        order_id = order.get_json()["order_id"]
        client.post(f"/api/orders/{order_id}/pay", json={"amount": "3.00"})


def forget_handler(engine: sa.Engine) -> int:
    """As if the handler had not been subscribed when these events were recorded."""
    with engine.begin() as conn:
        return conn.execute(outbox.delete().where(outbox.c.handler == HANDLER)).rowcount


def app_url(app: Flask) -> str:
    return container_of(app).settings.database_url


def per_handler(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.handler, sa.func.count()).group_by(outbox.c.handler)
        ).all()
    return Counter({handler: int(count) for handler, count in rows})


def deliveries_per_event(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(
            conn.execute(sa.select(outbox.c.event_id).where(outbox.c.handler == HANDLER)).scalars()
        )


def stored_event_ids(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(events.c.event_id)).scalars())


@pytest.mark.parametrize("db", ["postgresql", "sqlite"])
def test_backfill_gives_every_event_one_delivery_while_commands_go_on(
    make_database: MakeDatabase, tmp_path: Path, db: str
) -> None:
    database = make_database(db)
    app = command_app(tmp_path, database.url)
    engine = container_of(app).engine
    record_history(app, orders=60)
    others_before = per_handler(engine)
    assert forget_handler(engine) == others_before[HANDLER] > 0
    del others_before[HANDLER]

    if db == "postgresql":
        late, late_event_id = begin_late_event(engine)
        # A later position commits first: the late one is a hole the backfill reads past.
        app.test_client().post("/api/users", json={"email": "first@x.io", "name": "First"})
    stop = threading.Event()

    def live_commands() -> None:
        client = app.test_client()
        while not stop.is_set():
            client.post("/api/users", json={"email": f"{uuid.uuid4()}@x.io", "name": "Live"})

    writer = threading.Thread(target=live_commands)
    writer.start()
    backfill = Backfill(engine, HANDLERS_BY_NAME[HANDLER], batch_size=25)
    after, total = backfill.plan(from_position=None, since=None)
    result: list[object] = []
    runner = threading.Thread(target=lambda: result.append(backfill.run(after, total)))
    runner.start()
    if db == "postgresql":
        time.sleep(1.0)
        assert runner.is_alive(), "the backfill must wait for the open transaction"
        late.commit()
        late.close()
    runner.join(timeout=120)
    stop.set()
    writer.join(timeout=30)

    (report,) = result
    every = deliveries_per_event(engine)
    assert set(every.values()) == {1}, "no event has two deliveries for the handler"
    assert stored_event_ids(engine) <= set(every), "every stored event has its delivery"
    if db == "postgresql":
        assert late_event_id in every
        assert report.gaps_filled >= 1  # type: ignore[attr-defined]
    others_after = per_handler(engine)
    del others_after[HANDLER]
    assert all(others_after[h] >= n for h, n in others_before.items())

    again = Backfill(engine, HANDLERS_BY_NAME[HANDLER])
    second = again.run(*again.plan(from_position=None, since=None))
    assert second.added == 0 and second.missing == 0


@pytest.mark.parametrize("db", ["postgresql", "sqlite"])
def test_the_command_dry_runs_then_adds_from_a_position_and_refuses_bad_input(
    make_database: MakeDatabase, tmp_path: Path, db: str
) -> None:
    app = command_app(tmp_path, make_database(db).url)
    engine = container_of(app).engine
    record_history(app, orders=5)
    forget_handler(engine)
    cli = app.test_cli_runner()

    dry = cli.invoke(args=["handlers", "backfill", HANDLER, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would add 11 deliveries" in dry.output
    assert sum(deliveries_per_event(engine).values()) == 0

    with engine.connect() as conn:
        sixth = conn.execute(
            sa.select(events.c.position).order_by(events.c.position).offset(5).limit(1)
        ).scalar_one()
    partial = cli.invoke(args=["handlers", "backfill", HANDLER, "--from-position", str(sixth)])
    assert partial.exit_code == 0, partial.output
    assert "added 6 deliveries" in partial.output and "progress:" in partial.output
    full = cli.invoke(args=["handlers", "backfill", HANDLER, "--rate", "1000"])
    assert "added 5 deliveries" in full.output, full.output
    assert cli.invoke(args=["handlers", "backfill", HANDLER]).output.count("added 0 ") == 1

    unknown = cli.invoke(args=["handlers", "backfill", "nope"])
    assert unknown.exit_code == 2 and "no handler named 'nope'" in unknown.output
    disabled = build_app(tmp_path / "off", eager=False, database_url=app_url(app))
    refused = disabled.test_cli_runner().invoke(args=["handlers", "backfill", HANDLER])
    assert refused.exit_code == 1 and "WEBHOOK_URLS is not set" in refused.output
    both = cli.invoke(
        args=["handlers", "backfill", HANDLER, "--from-position", "1", "--since", "2026-01-01"]
    )
    assert both.exit_code == 2 and "not both" in both.output
