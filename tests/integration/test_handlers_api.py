"""``GET /api/handlers`` and ``flask handlers list``: every handler, enabled or why not, and
its backlog, the same in both."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.application.deliveries import DeadLettered
from app.application.errors import PermanentFailure
from app.application.event_handlers.registry import HANDLERS
from app.infrastructure.persistence.event_store import envelope_from_row
from app.infrastructure.persistence.tables import events, outbox
from tests.fakes import FakeWebhooks
from tests.support.inprocess import Api, app_factory, build_app, container

WEBHOOK = "forward_to_webhooks"
RECEIVER = "http://127.0.0.1:9/partner|partner-secret"
ADMIN_TOKEN = "handlers-admin-token-0123456789abcdef"


@pytest.fixture
def make_writing_app(tmp_path: Path) -> Iterator[Any]:
    """Apps whose commands only write: their deliveries wait, pending, for a relay."""
    with app_factory(tmp_path, eager=False) as make:
        yield make


def _handlers(app: Flask) -> list[dict[str, Any]]:
    response = app.test_client().get("/api/handlers")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["handlers"]


def _by_name(app: Flask) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in _handlers(app)}


def _without_age(handler: dict[str, Any]) -> dict[str, Any]:
    """The handler without the one figure that moves between two reads: its oldest's age."""
    return {k: v for k, v in handler.items() if k != "oldest_waiting_age_seconds"}


def _history(app: Flask) -> None:
    api = Api(app.test_client())
    api.pay(api.create_order(api.register()["user_id"]))


def test_every_handler_is_listed_with_its_state_and_backlog(make_writing_app: Any) -> None:
    app = make_writing_app()
    _history(app)

    handlers = _handlers(app)

    assert [h["name"] for h in handlers] == [spec.name for spec in HANDLERS]
    webhook = next(h for h in handlers if h["name"] == WEBHOOK)
    assert (webhook["enabled"], webhook["disabled_reason"]) == (False, "WEBHOOK_URLS is not set")
    assert (webhook["requires"], webhook["ordered"], webhook["queue"]) == (
        ["WEBHOOK_URLS"],
        True,
        "integrations",
    )
    assert sum(webhook["backlog"].values()) == 0
    others = [h for h in handlers if h["name"] != WEBHOOK]
    assert all(h["enabled"] and h["disabled_reason"] is None for h in others)
    summary = _by_name(app)["project_order_summary"]
    assert summary["event_types"] == sorted(
        t for t in summary["event_types"] if t.startswith("order.")
    )
    assert summary["backlog"] == {
        "pending": 2,
        "dispatched": 0,
        "running": 0,
        "retry": 0,
        "waiting": 0,
        "parked": 0,
        "dead": 0,
    }
    assert (summary["effect"], summary["task"], summary["done"]) == (
        "exactly-once",
        "handlers.project_order_summary",
        0,
    )
    assert summary["oldest_waiting_age_seconds"] >= 0
    with container(app).engine.connect() as conn:
        written = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
    assert sum(h["backlog"]["pending"] for h in handlers) == written


def test_a_configured_handler_is_enabled_and_counts_its_dead(tmp_path: Path) -> None:
    refusing = FakeWebhooks()
    refusing.fail_with = PermanentFailure("partner answered 410")
    app = build_app(tmp_path, {"WEBHOOK_URLS": RECEIVER}, eager=False, webhooks=refusing)
    try:
        _a_dead_webhook_delivery(app)
    finally:
        container(app).engine.dispose()


def _a_dead_webhook_delivery(app: Flask) -> None:
    _history(app)
    with container(app).engine.connect() as conn:
        first = conn.execute(
            sa.select(outbox.c.id, events)
            .join(events, events.c.event_id == outbox.c.event_id)
            .where(outbox.c.handler == WEBHOOK)
            .order_by(outbox.c.id)
        ).first()
    assert first is not None
    outcome = container(app).runner.run(WEBHOOK, first.id, envelope_from_row(first).to_dict())
    assert isinstance(outcome, DeadLettered)

    webhook = _by_name(app)[WEBHOOK]

    assert (webhook["enabled"], webhook["disabled_reason"]) == (True, None)
    assert webhook["backlog"]["dead"] == 1
    assert webhook["backlog"]["pending"] == 2  # order.created, order.payment_processed
    response = app.test_client().get(f"/api/handlers/{WEBHOOK}")
    assert response.status_code == 200
    assert _without_age(response.get_json()) == _without_age(webhook)


def test_an_unknown_handler_is_404_naming_the_handlers(make_writing_app: Any) -> None:
    response = make_writing_app().test_client().get("/api/handlers/forward_to_webhook")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "not_found"
    assert body["message"].startswith("no handler is named 'forward_to_webhook'; the handlers are")
    assert all(spec.name in body["message"] for spec in HANDLERS)
    long_name = "x" * 5000
    message = make_writing_app().test_client().get(f"/api/handlers/{long_name}").get_json()
    assert len(message["message"]) < 1000


def test_the_command_prints_what_the_endpoint_answers(make_writing_app: Any) -> None:
    app = make_writing_app()
    _history(app)
    runner = app.test_cli_runner()

    printed = runner.invoke(args=["handlers", "list", "--json"])
    assert printed.exit_code == 0, printed.output
    served = app.test_client().get("/api/handlers").get_json()

    assert [_without_age(h) for h in json.loads(printed.output)["handlers"]] == [
        _without_age(h) for h in served["handlers"]
    ]
    table = runner.invoke(args=["handlers", "list"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["HANDLER", "STATE", "ORDERED", "QUEUE", "BACKLOG", "EVENTS"]
    [webhook_line] = [line for line in lines if line.startswith(WEBHOOK)]
    assert "disabled: WEBHOOK_URLS is not set" in webhook_line and "all events" in webhook_line
    [summary_line] = [line for line in lines if line.startswith("project_order_summary")]
    assert "2 pending" in summary_line and "order.*" in summary_line


def test_the_endpoints_need_the_admin_token(make_writing_app: Any) -> None:
    client = make_writing_app(ADMIN_TOKEN=ADMIN_TOKEN).test_client()
    for path in ("/api/handlers", f"/api/handlers/{WEBHOOK}"):
        assert client.get(path).status_code == 401
        answered = client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert answered.status_code == 200
