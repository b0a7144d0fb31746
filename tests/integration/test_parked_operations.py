"""Operating a parked key: the HTTP API, the CLI, the stats and the metrics.

The parked order is made the real way (``tests.support.parked``): its ``order.created``
webhook was refused (422) and dead-lettered, and its payment and shipment are parked
behind it. Skipping the head delivers the payment then the shipment, never the creation;
re-driving it (one, or in bulk) delivers all three in order once the receiver accepts.
"""

import getpass
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from app.infrastructure.persistence import backlog
from app.infrastructure.persistence.tables import outbox
from tests.support.inprocess import container
from tests.support.parked import EVENTS, HANDLER, ParkedOrder, parked_order

TOKEN = "parked-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def parked(tmp_path: Path) -> Iterator[ParkedOrder]:
    with parked_order(tmp_path, ADMIN_TOKEN=TOKEN) as made:
        yield made


def test_skipping_the_head_over_http_delivers_the_rest_in_order(parked: ParkedOrder) -> None:
    client = parked.app.test_client()
    response = client.post(f"/api/dead-letters/{parked.dead_letter_id}/skip", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    who = f"api:token:{hashlib.sha256(TOKEN.encode()).hexdigest()[:12]}"
    assert (body["status"], body["skipped_by"]) == ("skipped", who)
    assert body["skipped_at"] is not None and "traceback" not in body
    assert parked.statuses() == ["skipped", "pending", "waiting"]

    parked.deliver()

    assert parked.statuses() == ["skipped", "done", "done"]
    assert parked.received() == ["order.payment_processed", "order.shipped"]


def test_re_driving_in_bulk_delivers_the_head_then_the_rest_in_order(
    parked: ParkedOrder,
) -> None:
    parked.refused.clear()
    client = parked.app.test_client()
    response = client.post("/api/dead-letters/retry", json={"handler": HANDLER}, headers=AUTH)
    assert response.get_json()["retried"] == [parked.dead_letter_id]
    assert parked.statuses() == ["pending", "waiting", "waiting"], "the head goes first"

    parked.deliver()

    assert parked.statuses() == ["done", "done", "done"]
    assert parked.received() == list(EVENTS)
    assert parked.dead_letter()["status"] == "redriven"


def test_skipping_from_the_cli_records_the_user_and_releases_the_key(
    parked: ParkedOrder,
) -> None:
    runner = parked.app.test_cli_runner()
    result = runner.invoke(args=["dead-letters", "skip", str(parked.dead_letter_id), "--yes"])
    assert result.exit_code == 0, result.output
    who = f"cli:{getpass.getuser()}"
    assert f"skipped 1 dead letter(s) as {who}: {parked.dead_letter_id}" in result.stdout
    assert parked.dead_letter()["skipped_by"] == who
    parked.deliver()
    assert parked.received() == ["order.payment_processed", "order.shipped"]


def test_stats_and_metrics_count_parked_then_waiting(parked: ParkedOrder) -> None:
    client = parked.app.test_client()

    def stats() -> dict[str, Any]:
        body: dict[str, Any] = client.get("/api/outbox/stats", headers=AUTH).get_json()
        return body

    def backlog_gauge() -> dict[str, float]:
        page = client.get("/metrics", headers=AUTH).get_data(as_text=True)
        return {
            s.labels["status"]: s.value
            for family in text_string_to_metric_families(page)
            if family.name == "outboxflow_outbox_backlog"
            for s in family.samples
            if s.labels["handler"] == HANDLER
        }

    before = stats()
    assert (before["parked"], before["waiting"], before["parked_keys"]) == (2, 0, 1)
    assert before["parked_by_handler"][HANDLER]["keys"] == 1
    assert before["parked_by_handler"][HANDLER]["deliveries"] == 2
    assert before["oldest_parked_age_seconds"] >= 0
    assert before["by_handler"][HANDLER]["parked"] == 2
    assert (backlog_gauge()["parked"], backlog_gauge()["waiting"]) == (2.0, 0.0)

    client.post(f"/api/dead-letters/{parked.dead_letter_id}/skip", headers=AUTH)

    after = stats()
    assert (after["parked"], after["waiting"], after["parked_keys"]) == (0, 1, 0)
    assert (after["skipped"], after["parked_by_handler"]) == (1, {})
    assert (backlog_gauge()["parked"], backlog_gauge()["waiting"], backlog_gauge()["pending"]) == (
        0.0,
        1.0,
        1.0,
    )


def test_parked_behind_names_the_key_and_counts_its_parked_deliveries(
    parked: ParkedOrder,
) -> None:
    engine = container(parked.app).engine
    with engine.connect() as conn:
        head = backlog.parked_behind(conn, parked.deliveries["order.created"])
        unordered = conn.execute(
            sa.select(outbox.c.id).where(outbox.c.order_key.is_(None)).limit(1)
        ).scalar_one()
        assert backlog.parked_behind(conn, unordered) is None
        assert backlog.parked_behind(conn, 10**12) is None
    assert head == backlog.ParkedBehind(parked.key, 2)
    parked.app.test_client().post(f"/api/dead-letters/{parked.dead_letter_id}/skip", headers=AUTH)
    with engine.connect() as conn:
        assert backlog.parked_behind(conn, parked.deliveries["order.created"]) == (
            backlog.ParkedBehind(parked.key, 0)
        )
