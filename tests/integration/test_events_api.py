"""The event store over HTTP: filtered pages in position order, one event with its
deliveries, one request's whole causal chain; refusals for bad filters and unknown ids."""

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.application.maintenance_tasks import RETENTION_TASK
from app.application.operations import MAX_TRACED_EVENTS
from app.infrastructure.persistence.sql import utcnow
from app.infrastructure.persistence.tables import outbox
from tests.support.db_state import store_raw_event
from tests.support.inprocess import Api, AppFactory, container

EVENT_FIELDS = {
    "position",
    "event_id",
    "type",
    "version",
    "aggregate_type",
    "aggregate_id",
    "aggregate_version",
    "occurred_at",
    "correlation_id",
    "causation_id",
    "payload",
}


def events(client: FlaskClient, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/events{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_filtering_by_aggregate_is_the_audit_trail(
    client: FlaskClient, api: Api, user: dict[str, Any], order: dict[str, Any]
) -> None:
    api.pay(order)
    api.ship(order)

    page = events(client, f"?aggregate_type=order&aggregate_id={order['order_id']}")

    assert [e["type"] for e in page["items"]] == [
        "order.created",
        "order.payment_processed",
        "order.shipped",
    ]
    assert page["next_after"] is None
    first = page["items"][0]
    assert set(first) == EVENT_FIELDS
    assert first["aggregate_version"] == 1 and first["aggregate_id"] == order["order_id"]
    assert first["payload"]["total"] == "30.97"
    positions = [e["position"] for e in page["items"]]
    assert positions == sorted(positions)


def test_pages_follow_the_global_position(client: FlaskClient, api: Api) -> None:
    for n in range(5):
        api.register(email=f"u{n}@example.com", name=f"U{n}")
    everything = events(client)["items"]

    first = events(client, "?limit=2")
    second = events(client, f"?limit=2&after={first['next_after']}")
    rest = events(client, f"?limit=2&after={second['next_after']}&type=user.registered")

    assert first["next_after"] == first["items"][-1]["position"]
    assert [e["event_id"] for e in first["items"] + second["items"]] == [
        e["event_id"] for e in everything[:4]
    ]
    assert [e["payload"]["email"] for e in rest["items"]] == ["u4@example.com"]
    assert rest["next_after"] is None
    assert events(client, "?type=order.created")["items"] == []


def test_filter_by_correlation_id(client: FlaskClient, api: Api, order: dict[str, Any]) -> None:
    api.pay(order, headers={"X-Correlation-ID": "audit-pay-1"})
    page = events(client, "?correlation_id=audit-pay-1")
    assert [e["type"] for e in page["items"]] == [
        "order.payment_processed",
        "user.loyalty_points_awarded",
    ]


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=1001",
        "?limit=ten",
        "?after=-1",
        "?after=99999999999999999999",
        "?aggregate_type=" + "x" * 51,
        "?type=",
        "?colour=red",
        "?correlation_id=a%00b",
    ],
)
def test_a_bad_filter_is_422(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/events{query}")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"] == "validation_failed"


def test_limit_defaults_to_100_and_allows_1000(client: FlaskClient, api: Api) -> None:
    user = api.register()
    for _ in range(119):
        api.create_order(user["user_id"], ("pen", 1, "1.00"))
    assert len(events(client)["items"]) == 100
    assert events(client)["next_after"] == 100
    assert len(events(client, "?limit=1000")["items"]) == 120
    assert events(client, "?limit=1000")["next_after"] is None


def test_one_event_with_its_deliveries(
    client: FlaskClient, api: Api, order: dict[str, Any]
) -> None:
    (created,) = events(client, "?type=order.created")["items"]

    response = client.get(f"/api/events/{created['event_id']}")

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == EVENT_FIELDS | {"deliveries"}
    assert {d["handler"]: (d["status"], d["attempts"]) for d in body["deliveries"]} == {
        "project_order_summary": ("done", 1),
        "send_order_confirmation": ("done", 1),
        "notify_sales_channel": ("done", 1),
    }  # and no forward_to_webhooks: without WEBHOOK_URLS it is not subscribed
    assert all(
        set(d) == {"handler", "status", "attempts", "last_error"} for d in body["deliveries"]
    )


@pytest.mark.parametrize("event_id", ["8b1f9a52-0000-4000-8000-000000000000", "x" * 300])
def test_an_unknown_event_is_404(client: FlaskClient, event_id: str) -> None:
    response = client.get(f"/api/events/{event_id}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_a_trace_is_the_whole_causal_chain(
    app: Flask, client: FlaskClient, api: Api, order: dict[str, Any]
) -> None:
    api.pay(order, headers={"X-Correlation-ID": "trace-http-1"})

    body = client.get("/api/traces/trace-http-1").get_json()

    assert body["correlation_id"] == "trace-http-1"
    payment, award = body["events"]
    assert (payment["type"], award["type"]) == (
        "order.payment_processed",
        "user.loyalty_points_awarded",
    )
    assert payment["causation_id"] == "trace-http-1"
    assert award["causation_id"] == payment["event_id"]
    assert [d["handler"] for d in award["deliveries"]] == ["project_user_profile"]
    cli = app.test_cli_runner().invoke(args=["events", "trace", "trace-http-1"])
    assert payment["event_id"] in cli.output and award["event_id"] in cli.output


def test_a_trace_says_which_deliveries_retention_purged(
    app: Flask, client: FlaskClient, api: Api, order: dict[str, Any]
) -> None:
    api.pay(order, headers={"X-Correlation-ID": "trace-purged"})
    aged = utcnow() - timedelta(hours=73)  # past OUTBOX_RETENTION_HOURS (72)
    with container(app).engine.begin() as conn:
        conn.execute(
            outbox.update()
            .where(outbox.c.handler.in_(["award_loyalty_points", "project_user_profile"]))
            .values(done_at=aged)
        )
    with app.app_context():
        app.extensions["celery"].tasks[RETENTION_TASK].run()
    with container(app).engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).where(outbox.c.handler == "award_loyalty_points")
            ).scalar_one()
            == 0
        )

    body = client.get("/api/traces/trace-purged").get_json()

    statuses = {
        (e["type"], d["handler"]): (d["status"], d["attempts"])
        for e in body["events"]
        for d in e["deliveries"]
    }
    assert statuses[("order.payment_processed", "award_loyalty_points")] == ("purged", None)
    assert statuses[("user.loyalty_points_awarded", "project_user_profile")] == ("purged", None)
    assert statuses[("order.payment_processed", "send_payment_receipt")] == ("done", 1)
    cli = app.test_cli_runner().invoke(args=["events", "trace", "trace-purged"])
    assert "award_loyalty_points       purged     attempts=-" in cli.output


def trace_page(client: FlaskClient, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_a_trace_is_read_page_by_page(client: FlaskClient, api: Api, order: dict[str, Any]) -> None:
    api.pay(order, headers={"X-Correlation-ID": "trace-pages"})
    whole = trace_page(client, "/api/traces/trace-pages")
    assert whole["next_after"] is None and len(whole["events"]) == 2

    first = trace_page(client, "/api/traces/trace-pages?limit=1")
    second = trace_page(client, f"/api/traces/trace-pages?limit=1&after={first['next_after']}")
    beyond = trace_page(client, f"/api/traces/trace-pages?after={second['events'][0]['position']}")

    assert first["next_after"] == first["events"][0]["position"]
    assert first["events"] + second["events"] == whole["events"]
    assert second["next_after"] is None
    assert beyond == {"correlation_id": "trace-pages", "events": [], "next_after": None}


def test_a_chain_longer_than_a_page_is_read_whole_by_the_cli(
    app: Flask, client: FlaskClient, api: Api, order: dict[str, Any]
) -> None:
    api.pay(order, headers={"X-Correlation-ID": "trace-long"})
    with container(app).engine.begin() as conn:
        for n in range(MAX_TRACED_EVENTS - 1):
            store_raw_event(
                conn, payload={"n": n}, event_type="load.tick", correlation_id="trace-long"
            )
    total = MAX_TRACED_EVENTS + 1

    first = trace_page(client, "/api/traces/trace-long")
    rest = trace_page(client, f"/api/traces/trace-long?after={first['next_after']}")

    assert len(first["events"]) == MAX_TRACED_EVENTS
    assert first["next_after"] == first["events"][-1]["position"]
    assert [e["type"] for e in rest["events"]] == ["load.tick"] and rest["next_after"] is None
    cli = app.test_cli_runner().invoke(args=["events", "trace", "trace-long"])
    assert cli.exit_code == 0, cli.output
    event_lines = [line for line in cli.output.splitlines() if " event=" in line]
    assert len(event_lines) == total
    assert len({line.split(" event=")[1].split()[0] for line in event_lines}) == total


@pytest.mark.parametrize(
    "query", ["?limit=0", f"?limit={MAX_TRACED_EVENTS + 1}", "?after=-1", "?after=x", "?depth=2"]
)
def test_a_bad_trace_page_is_422(
    client: FlaskClient, api: Api, order: dict[str, Any], query: str
) -> None:
    api.pay(order, headers={"X-Correlation-ID": "trace-bad-page"})
    response = client.get(f"/api/traces/trace-bad-page{query}")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"] == "validation_failed"


@pytest.mark.parametrize("query", ["", "?after=5"])
def test_an_unknown_trace_is_404(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/traces/nobody-sent-this{query}")
    assert response.status_code == 404
    assert "nobody-sent-this" in response.get_json()["message"]


def test_the_event_endpoints_need_the_admin_token_when_it_is_set(make_app: AppFactory) -> None:
    client = make_app(ADMIN_TOKEN="s3cret").test_client()
    Api(client).register()
    with container(client.application).engine.connect() as conn:
        event_id = conn.execute(sa.text("SELECT event_id FROM events")).scalar_one()
    for path in ("/api/events", f"/api/events/{event_id}", "/api/traces/anything"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    authorised = {"Authorization": "Bearer s3cret"}
    assert client.get("/api/events", headers=authorised).status_code == 200
    assert client.get(f"/api/events/{event_id}", headers=authorised).status_code == 200
