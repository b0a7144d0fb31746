"""docker-compose's ``observability`` profile, Prometheus' scrape config and the Grafana files.

No Docker engine runs where the suite does, so what could drift is checked by reading
the files: the profile's services and the files they mount, Prometheus scraping the web
and every worker where they listen, the provisioned datasource the dashboard names, and
dashboard queries that name only metrics the code exports.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Histogram

from app.api.metrics import HTTP_REQUEST_DURATION
from app.infrastructure.metrics import outbox_collector
from tasks import metrics as task_metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROFILE = "observability"
METRIC_NAME = re.compile(r"\boutboxflow_[a-z_]+\b")


def _yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml(ROOT / "docker-compose.yml")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEPLOY / "grafana/dashboards/outboxflow.json").read_text())
    return loaded


def _series(metric: Counter | Histogram) -> set[str]:
    """The sample names a metric exposes (``_total`` of a counter, a histogram's three)."""
    [family] = metric.describe()
    if family.type == "counter":
        return {f"{family.name}_total"}
    assert family.type == "histogram", family
    return {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}


EXPORTED = (
    _series(task_metrics.DELIVERIES)
    | _series(task_metrics.DELIVERY_DURATION)
    | _series(task_metrics.COMMIT_TO_HANDLER)
    | _series(HTTP_REQUEST_DURATION)
    | set(outbox_collector.NAMES)
)


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts (``./host:container[:ro]``) of a service: container path -> host path."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            found[target] = source
    return found


def test_the_profile_starts_prometheus_and_grafana_and_nothing_else(
    compose: dict[str, Any],
) -> None:
    profiled = {n for n, s in compose["services"].items() if PROFILE in s.get("profiles", [])}
    assert profiled == {"prometheus", "grafana"}
    unprofiled = {n for n, s in compose["services"].items() if "profiles" not in s}
    assert {"web", "worker", "beat"} <= unprofiled, "the app itself starts without the profile"


def test_every_file_the_profile_mounts_exists(compose: dict[str, Any]) -> None:
    for name in ("prometheus", "grafana"):
        for source in _mounts(compose["services"][name]).values():
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_prometheus_scrapes_the_web_and_every_worker_where_they_listen(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    prometheus = services["prometheus"]
    config_path = next(
        ROOT / source
        for target, source in _mounts(prometheus).items()
        if target == "/etc/prometheus/prometheus.yml"
    )
    jobs = {job["job_name"]: job for job in _yaml(config_path)["scrape_configs"]}

    web = jobs["outboxflow-web"]
    assert web["metrics_path"] == "/metrics"
    assert web["static_configs"][0]["targets"] == ["web:5000"]
    assert "0.0.0.0:5000" in services["web"]["command"]
    # /metrics is behind the admin token: Prometheus reads it from the compose secret.
    assert web["authorization"]["credentials_file"] == "/run/secrets/admin_token"
    assert prometheus["secrets"] == ["admin_token"]
    assert compose["secrets"]["admin_token"] == {"environment": "ADMIN_TOKEN"}

    worker = jobs["outboxflow-worker"]
    [discovery] = worker["dns_sd_configs"]
    assert discovery["names"] == ["worker"] and discovery["type"] == "A"
    listen = services["worker"]["environment"]["WORKER_METRICS_LISTEN"]
    assert listen == f"0.0.0.0:{discovery['port']}"
    assert str(discovery["port"]) in services["worker"]["expose"]


def test_web_and_worker_run_in_multiprocess_mode_with_container_local_directories(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert "--config python:app.api.gunicorn_hooks" in services["web"]["command"]
    shared_volume = "/var/lib/outboxflow"
    for name in ("web", "worker"):
        directory = services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert directory and not directory.startswith(shared_volume), (
            f"{name}: a scaled service must not share its metrics directory"
        )


def test_grafana_is_provisioned_with_the_datasource_and_dashboard_the_json_names(
    compose: dict[str, Any], dashboard: dict[str, Any]
) -> None:
    mounts = _mounts(compose["services"]["grafana"])
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    [datasource] = _yaml(provisioning / "datasources/prometheus.yml")["datasources"]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    [provider] = _yaml(provisioning / "dashboards/outboxflow.yml")["providers"]
    dashboards_dir = provider["options"]["path"]
    assert (ROOT / mounts[dashboards_dir] / "outboxflow.json").is_file()
    home = compose["services"]["grafana"]["environment"][
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"
    ]
    assert home == f"{dashboards_dir}/outboxflow.json", "the dashboard opens with no clicks"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    for panel in panels:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_dashboard_queries_name_only_metrics_we_export(dashboard: dict[str, Any]) -> None:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    used: set[str] = set()
    for expr in exprs:
        names = set(METRIC_NAME.findall(expr))
        assert names, f"a query with no outboxflow metric: {expr}"
        assert names <= EXPORTED, f"not exported: {sorted(names - EXPORTED)} in {expr}"
        used |= names
    # Lag, throughput and failures, dead letters, HTTP latency: every family is on show.
    families = {
        "outboxflow_commit_to_handler_seconds_bucket",
        "outboxflow_outbox_oldest_age_seconds",
        "outboxflow_outbox_backlog",
        "outboxflow_deliveries_total",
        "outboxflow_delivery_duration_seconds_bucket",
        "outboxflow_dead_letters",
        "outboxflow_http_request_duration_seconds_bucket",
    }
    assert families <= used, f"no panel shows {sorted(families - used)}"


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        area = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
