"""Operator commands through Flask's CLI runner, against the same eager-mode app."""

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app.infrastructure.messaging import asyncapi, schema_snapshot
from app.infrastructure.persistence.tables import order_summaries, user_profiles
from tests.support.inprocess import Api, container


def _projections(app: Flask) -> tuple[list[Any], list[Any]]:
    with container(app).engine.connect() as conn:
        orders = conn.execute(sa.select(order_summaries).order_by(order_summaries.c.order_id))
        users = conn.execute(sa.select(user_profiles).order_by(user_profiles.c.user_id))
        return [tuple(r) for r in orders], [tuple(r) for r in users]


def _busy_history(api: Api) -> None:
    for n in range(3):
        user = api.register(f"u{n}@example.com", f"User {n}")
        for step in range(4):
            order = api.create_order(user["user_id"], ("sku", step + 1, f"{n}.{step}5"))
            if step >= 1:
                api.pay(order)
            if step == 2:
                api.ship(order)
            if step == 3:
                api.cancel(order, "returned")


def test_projections_rebuild_gives_identical_projections(app: Flask, api: Api) -> None:
    _busy_history(api)
    live = _projections(app)
    assert len(live[0]) == 12 and len(live[1]) == 3
    result = app.test_cli_runner().invoke(args=["projections", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rebuilt order_summaries: 12 rows from " in result.output
    assert "rebuilt user_profiles: 3 rows from " in result.output
    assert _projections(app) == live


def test_projections_rebuild_repairs_a_damaged_read_model(app: Flask, api: Api) -> None:
    _busy_history(api)
    live = _projections(app)
    with container(app).engine.begin() as conn:
        conn.execute(order_summaries.delete().where(order_summaries.c.status == "shipped"))
        conn.execute(user_profiles.update().values(loyalty_points=-1, name="corrupted"))
    assert _projections(app) != live
    result = app.test_cli_runner().invoke(args=["projections", "rebuild"])
    assert result.exit_code == 0, result.output
    assert _projections(app) == live


def test_events_trace_lists_the_whole_chain_of_one_request(
    app: Flask, api: Api, order: dict[str, Any]
) -> None:
    api.pay(order, headers={"X-Correlation-ID": "trace-pay-1"})
    result = app.test_cli_runner().invoke(args=["events", "trace", "trace-pay-1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    event_lines = [line for line in lines if not line.startswith(" ")]
    assert len(event_lines) == 2
    assert "order.payment_processed" in event_lines[0]
    assert "user.loyalty_points_awarded" in event_lines[1]
    payment_id = event_lines[0].split("event=")[1].split()[0]
    assert f"caused_by={payment_id}" in event_lines[1]
    assert "caused_by=trace-pay-1" in event_lines[0]
    deliveries = [line.split() for line in lines if line.startswith(" ")]
    assert sorted(d[0] for d in deliveries) == sorted(  # no WEBHOOK_URLS: no webhook handler
        [
            "project_order_summary",
            "award_loyalty_points",
            "send_payment_receipt",
            "project_user_profile",
        ]
    )
    assert {d[1] for d in deliveries} == {"done"}


def test_events_trace_of_an_unknown_correlation_id_fails(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["events", "trace", "nobody"])
    assert result.exit_code != 0
    assert "no events with correlation id nobody" in result.output


def test_outbox_stats_command_prints_the_api_figures(
    app: Flask, api: Api, order: dict[str, Any]
) -> None:
    result = app.test_cli_runner().invoke(args=["outbox", "stats"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    served = api.get("/api/outbox/stats")
    assert {k: v for k, v in printed.items() if k != "oldest_pending_age_seconds"} == {
        k: v for k, v in served.items() if k != "oldest_pending_age_seconds"
    }
    assert printed["done"] == 5  # user.registered to 2 handlers, order.created to 3


def test_events_schema_prints_the_committed_snapshot(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["events", "schema"])
    assert result.exit_code == 0, result.output
    assert result.output == schema_snapshot.dump(schema_snapshot.load())
    assert '"currency": "string"' in result.output


def test_events_schema_write_rewrites_the_contract_and_the_event_catalog(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract, catalog = tmp_path / "wire_contract.json", tmp_path / "asyncapi.json"
    monkeypatch.setattr(schema_snapshot, "SNAPSHOT_PATH", contract)
    monkeypatch.setattr(asyncapi, "CATALOG_PATH", catalog)
    result = app.test_cli_runner().invoke(args=["events", "schema", "--write"])
    assert result.exit_code == 0, result.output
    assert contract.read_text() == schema_snapshot.dump(schema_snapshot.load())
    assert catalog.read_text() == asyncapi.current_json()
